// Package kmeans is k-means clustering with k-means++ seeding, shared by
// the clustering tasks (DeepCluster, keypoint clusters) and the photo
// groups of package explore. Rows are []float64 vectors of one length;
// inputs are never modified; randomness comes from the caller's generator.
package kmeans
