package core

// Version is Pretext's release, the one place it is kept: `pretext
// version` prints it, the page shows it in its header, and every checkpoint
// records the release that wrote it. CHANGELOG.md says what each release
// changed.
const Version = "0.5.0"
