.PHONY: build test vet fuzz bench bench-quick

build:
	go build -o bin/stratus ./cmd/stratus

vet:
	gofmt -l . | (! grep .) || (echo "gofmt needed on the files above" && exit 1)
	go vet ./...

# The whole test suite: unit, integration (real JetStream, real sandboxes)
# and end-to-end (built binary, AWS CLI, aws-sdk-go-v2). Needs root.
test: vet
	go test -race -count=1 -timeout 20m ./...

# Short fuzzing runs of every fuzz target (the corpus lives in testdata/fuzz).
fuzz:
	./scripts/fuzz.sh 20s

# End-to-end benchmarks (see BENCHMARKS.md); each part can run alone:
#   go run ./bench -parts warm -n 5000
bench:
	go run ./bench

# Every benchmark part at tiny sizes, so they cannot rot (CI runs this).
bench-quick:
	go run ./bench -quick
	go test -run XXX -bench . -benchtime 1x ./...
