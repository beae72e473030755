// Package explore puts a trained trunk's representation to work on a
// person's photos: embeddings, similar photos, groups, a map and few-shot
// labels. The page (wasm/app) and the command (pretext embed, similar,
// classify, map, cluster) are thin shells over it, so both give the same
// answers.
//
//   - [Embedder] turns photos into unit-length embeddings: the frozen
//     trunk's features after one block, average-pooled (see
//     [EmbedConfig] for the choice and docs/RUNS.md for why).
//   - [Set] holds named embeddings; [Set.Nearest] finds the most similar
//     photos of any photo, in the set or not.
//   - [Cluster] groups them by k-means, k chosen by silhouette or given.
//   - [Map] lays them out in 2-D by PCA and t-SNE, the same bits natively
//     and in wasm; [MapPicture] and [Montage] draw pictures of the results.
//   - [Label] names every photo from a few named ones with a linear probe
//     or k-NN, with confidences and the leave-one-out accuracy.
//   - [WriteCSV], [WriteNPY], [WritePredictions] and [WriteGroups] export.
//
// Like core, it does no file or network I/O and holds no global state:
// photos come in as images, results go out through io.Writer, and every
// random choice is seeded by the caller.
package explore
