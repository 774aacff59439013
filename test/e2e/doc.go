// Package e2e holds Stratus's black-box end-to-end tests: they build
// cmd/stratus and the Lambda function in test/fixtures/gofn, start
// `stratus server` on a random port with a temporary data dir, and drive it
// with the real AWS CLI and aws-sdk-go-v2's Lambda client, exactly as a user
// would.
//
// Run them with
//
//	go test ./test/e2e/ -count=1 -v
//
// They need root (the default linux sandbox) and the AWS CLI (/usr/bin/aws
// or aws on PATH); they are skipped with -short. Tests run in parallel (8 at
// a time unless -parallel says otherwise): most of their time is spent
// waiting on the server.
package e2e
