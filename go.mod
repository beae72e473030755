module github.com/pretextlab/pretext

go 1.26.0

require (
	github.com/disintegration/imaging v1.6.2
	github.com/nlpodyssey/spago v1.1.0
	golang.org/x/image v0.48.0
)

require github.com/google/flatbuffers v23.5.26+incompatible // indirect
