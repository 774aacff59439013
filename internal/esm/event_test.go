package esm

import (
	"fmt"
	"sort"
	"testing"
)

func TestBatchFailures(t *testing.T) {
	batch := map[string]bool{"a": true, "b": true}
	tests := []struct {
		payload string
		failed  string // sorted ids
		all     bool
	}{
		{``, "[]", false},
		{`null`, "[]", false},
		{`{}`, "[]", false},
		{`{"batchItemFailures":null}`, "[]", false},
		{`{"batchItemFailures":[]}`, "[]", false},
		{`"done"`, "[]", false},
		{`{"batchItemFailures":[{"itemIdentifier":"a"}]}`, "[a]", false},
		{`{"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"b"}]}`, "[a b]", false},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, "[]", true},
		{`{"batchItemFailures":[{"itemIdentifier":null}]}`, "[]", true},
		{`{"batchItemFailures":[{"itemId":"a"}]}`, "[]", true},
		{`{"batchItemFailures":[{"itemIdentifier":"zzz"}]}`, "[]", true},
		{`{"batchItemFailures":"a"}`, "[]", true},
		{`{not json`, "[]", true},
	}
	for _, tc := range tests {
		failed, all := batchFailures([]byte(tc.payload), batch)
		ids := []string{}
		for id := range failed {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		if got := fmt.Sprint(ids); all != tc.all || (!all && got != tc.failed) {
			t.Errorf("batchFailures(%s) = %s, all=%v; want %s, all=%v", tc.payload, got, all, tc.failed, tc.all)
		}
	}
}
