package jsonv_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus/internal/jsonv"
)

// benchSize is the payload size the Invoke latency target is set for.
const benchSize = 100 << 10

// benchString is a JSON string of benchSize bytes of plain text, the
// shape of a payload that carries a document or base64 blob.
func benchString() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	const text = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;-+/=_()"
	b := make([]byte, benchSize)
	b[0], b[len(b)-1] = '"', '"'
	for i := 1; i < len(b)-1; i++ {
		b[i] = text[r.IntN(len(text))]
	}
	return b
}

// benchObject is a JSON object of about benchSize bytes: a batch of
// API Gateway proxy events with headers, nested request contexts,
// numbers, nulls, booleans and a JSON-encoded body full of escapes.
func benchObject() []byte {
	r := rand.New(rand.NewPCG(3, 4))
	var events []any
	for size := 0; size < benchSize-4000; {
		ev := apiGatewayEvent(r)
		b, _ := json.Marshal(ev)
		size += len(b) + 1
		events = append(events, ev)
	}
	b, err := json.Marshal(map[string]any{"Records": events})
	if err != nil {
		panic(err)
	}
	return b
}

func apiGatewayEvent(r *rand.Rand) map[string]any {
	id := r.IntN(1_000_000)
	headers := map[string]string{
		"Accept":                       "application/json, text/plain, */*",
		"Accept-Encoding":              "gzip, deflate, br",
		"Accept-Language":              "en-GB,en;q=0.9,fr;q=0.8",
		"CloudFront-Forwarded-Proto":   "https",
		"CloudFront-Is-Desktop-Viewer": fmt.Sprint(r.IntN(2) == 0),
		"CloudFront-Is-Mobile-Viewer":  fmt.Sprint(r.IntN(2) == 0),
		"CloudFront-Viewer-Country":    []string{"GB", "FR", "US", "DE"}[r.IntN(4)],
		"Content-Type":                 "application/json; charset=utf-8",
		"Host":                         "abc123def4.execute-api.eu-west-1.amazonaws.com",
		"User-Agent":                   fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36", 100+r.IntN(30)),
		"Via":                          fmt.Sprintf("2.0 %016x.cloudfront.net (CloudFront)", r.Uint64()),
		"X-Amz-Cf-Id":                  fmt.Sprintf("%016x%016x==", r.Uint64(), r.Uint64()),
		"X-Amzn-Trace-Id":              fmt.Sprintf("Root=1-%08x-%012x", r.Uint32(), r.Uint64()&0xffffffffffff),
		"X-Forwarded-For":              fmt.Sprintf("%d.%d.%d.%d, 130.176.1.%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256)),
		"X-Forwarded-Port":             "443",
		"X-Forwarded-Proto":            "https",
	}
	multi := make(map[string][]string, len(headers))
	for k, v := range headers {
		multi[k] = []string{v}
	}
	var items []map[string]any
	for range 1 + r.IntN(4) {
		items = append(items, map[string]any{
			"sku":   fmt.Sprintf("SKU-%05d", r.IntN(100000)),
			"qty":   1 + r.IntN(9),
			"price": float64(r.IntN(100000)) / 100,
			"tags":  []string{"café", "<gift>"}[:r.IntN(3)],
		})
	}
	body, _ := json.Marshal(map[string]any{
		"orderId": id,
		"items":   items,
		"note":    "Leave at the door.\nRing twice & say \"hello\"\t— thanks!",
		"express": r.IntN(2) == 0,
	})
	return map[string]any{
		"resource":                        "/orders/{id}",
		"path":                            fmt.Sprintf("/orders/%d", id),
		"httpMethod":                      "POST",
		"headers":                         headers,
		"multiValueHeaders":               multi,
		"queryStringParameters":           map[string]string{"page": fmt.Sprint(r.IntN(50)), "q": "a&b=c d"},
		"multiValueQueryStringParameters": nil,
		"pathParameters":                  map[string]string{"id": fmt.Sprint(id)},
		"stageVariables":                  nil,
		"requestContext": map[string]any{
			"accountId":        "123456789012",
			"apiId":            "abc123def4",
			"domainName":       "abc123def4.execute-api.eu-west-1.amazonaws.com",
			"httpMethod":       "POST",
			"path":             fmt.Sprintf("/prod/orders/%d", id),
			"protocol":         "HTTP/1.1",
			"requestId":        fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16), r.Uint64()&0xffffffffffff),
			"requestTime":      "09/Apr/2015:12:34:56 +0000",
			"requestTimeEpoch": 1428582896000 + r.IntN(1e9),
			"resourcePath":     "/orders/{id}",
			"stage":            "prod",
			"identity": map[string]any{
				"accessKey":  nil,
				"accountId":  nil,
				"caller":     nil,
				"sourceIp":   fmt.Sprintf("%d.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256)),
				"user":       nil,
				"userAgent":  headers["User-Agent"],
				"userArn":    nil,
				"latitude":   r.Float64()*180 - 90,
				"longitude":  r.Float64()*360 - 180,
				"confidence": -r.Float64() * 1e-7,
			},
		},
		"body":            string(body),
		"isBase64Encoded": false,
	}
}

func BenchmarkValid(b *testing.B) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"object20B", []byte(`{"id":42,"ok":false}`)},
		{"string100KB", benchString()},
		{"object100KB", benchObject()},
	}
	validators := []struct {
		name  string
		valid func([]byte) bool
	}{
		{"jsonv", jsonv.Valid},
		{"encoding-json", json.Valid},
	}
	for _, in := range inputs {
		if !json.Valid(in.data) || !jsonv.Valid(in.data) {
			b.Fatalf("%s: benchmark input is not valid JSON", in.name)
		}
		for _, v := range validators {
			b.Run(in.name+"/"+v.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				b.ReportAllocs()
				for b.Loop() {
					v.valid(in.data)
				}
			})
		}
	}
}

// TestBenchInputs keeps the benchmark inputs honest: near benchSize, and
// the object really exercises escapes and numbers.
func TestBenchInputs(t *testing.T) {
	for name, b := range map[string][]byte{"string": benchString(), "object": benchObject()} {
		if n := len(b); n < benchSize*9/10 || n > benchSize*11/10 {
			t.Errorf("%s input is %d bytes, want about %d", name, n, benchSize)
		}
	}
	obj := string(benchObject())
	for _, want := range []string{`\"`, `\n`, `\u0026`, `\u003c`, `e-`, `null`, `true`, `[{`} {
		if !strings.Contains(obj, want) {
			t.Errorf("object input lacks %q", want)
		}
	}
}
