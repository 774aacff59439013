package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stratus-dev/stratus/internal/router"
)

// statusPath serves the server's status as JSON: the document `stratus
// status` prints and the console shows. It is part of the server's public
// HTTP surface (like /metrics), not a back door: it only reads.
//
//	{
//	  "sandbox": "linux",                 // or "none": functions run unisolated
//	  "account": {"concurrencyLimit": 1000, "unreservedLimit": 900, "inUse": 3, "unreservedInUse": 2},
//	  "memory": {"budgetMB": 12052, "usedMB": 384, "freeMB": 11668},
//	  "environments": {"initializing": 0, "idle": 1, "busy": 2, "frozen": 0},
//	  "functions": [{
//	    "name": "fn", "reservedConcurrency": 5, "concurrencyLimit": 5, "inUse": 2,
//	    "environments": {"initializing": 0, "idle": 1, "busy": 2, "frozen": 0},
//	    "provisioned": [{"function": "fn", "qualifier": "live", "requested": 2, "allocated": 2,
//	                     "idle": 1, "status": "READY", "lastModified": "..."}]
//	  }]
//	}
const statusPath = "/_stratus/status"

// statusDocument is the JSON at statusPath.
type statusDocument struct {
	// Sandbox is the isolation of execution environments: "linux", or
	// "none" when functions run as plain processes.
	Sandbox string `json:"sandbox"`
	// AsyncBacklog counts, per function, the asynchronous events queued,
	// waiting for a retry or running.
	AsyncBacklog map[string]int `json:"asyncBacklog,omitempty"`
	*router.Status
}

func (m *Main) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	st, err := m.router.Status(r.Context())
	if err != nil {
		http.Error(w, "reading the status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	doc := statusDocument{Sandbox: m.driver.Name(), Status: st}
	if m.async != nil {
		if doc.AsyncBacklog, err = m.async.Backlog(r.Context()); err != nil {
			http.Error(w, "reading the async backlog: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	_ = enc.Encode(doc)
}

// runStatus prints a running server's status: per function its
// environments by state, its concurrency in use against its limit and the
// readiness of its provisioned concurrency.
func runStatus(ctx context.Context, args, environ []string) int {
	fs := flag.NewFlagSet("stratus status", flag.ContinueOnError)
	endpoint := fs.String("endpoint", envOr(environ, "STRATUS_ENDPOINT", "http://127.0.0.1:4566"), "server URL (STRATUS_ENDPOINT)")
	asJSON := fs.Bool("json", false, "print the status document as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: stratus status [--endpoint URL] [--json]")
		return 2
	}
	body, err := fetchStatus(ctx, strings.TrimSuffix(*endpoint, "/")+statusPath)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stratus status: %v\n", err)
		return 1
	}
	if *asJSON {
		_, _ = os.Stdout.Write(body)
		return 0
	}
	var doc statusDocument
	if err := json.Unmarshal(body, &doc); err != nil || doc.Status == nil {
		fmt.Fprintf(os.Stderr, "stratus status: %s does not answer with a status document: %v\n", *endpoint, err)
		return 1
	}
	printStatus(os.Stdout, &doc)
	return 0
}

func fetchStatus(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// printStatus renders doc for people.
func printStatus(w io.Writer, doc *statusDocument) {
	st := doc.Status
	isolation := doc.Sandbox
	if isolation == "none" {
		isolation += " (UNSAFE: functions run without isolation)"
	}
	fmt.Fprintf(w, "Sandbox:              %s\n", isolation)
	fmt.Fprintf(w, "Account concurrency:  %d in use of %d (unreserved pool: %d in use of %d)\n",
		st.Account.InUse, st.Account.ConcurrencyLimit, st.Account.UnreservedInUse, st.Account.UnreservedLimit)
	fmt.Fprintf(w, "Memory budget:        %d MB used of %d MB (%d MB free)\n", st.Memory.UsedMB, st.Memory.BudgetMB, st.Memory.FreeMB)
	fmt.Fprintf(w, "Environments:         %s\n\n", stateCounts(st.Environments))
	if len(st.Functions) == 0 {
		fmt.Fprintln(w, "No functions.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tCONCURRENCY\tRESERVED\tINITIALIZING\tIDLE\tBUSY\tFROZEN\tASYNC QUEUED\tPROVISIONED")
	for _, f := range st.Functions {
		reserved := "-"
		if f.ReservedConcurrency != nil {
			reserved = strconv.Itoa(*f.ReservedConcurrency)
		}
		var prov []string
		for _, p := range f.Provisioned {
			s := fmt.Sprintf("%s: %s %d/%d (%d idle)", p.Qualifier, p.Status, p.Allocated, p.Requested, p.Idle)
			if p.StatusReason != "" {
				s += " " + p.StatusReason
			}
			prov = append(prov, s)
		}
		if len(prov) == 0 {
			prov = []string{"-"}
		}
		e := f.Environments
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", f.Name, f.InUse, f.ConcurrencyLimit, reserved,
			e["initializing"], e["idle"], e["busy"], e["frozen"], doc.AsyncBacklog[f.Name], strings.Join(prov, "; "))
	}
	_ = tw.Flush()
}

func stateCounts(m map[string]int) string {
	return fmt.Sprintf("%d initializing, %d idle, %d busy, %d frozen", m["initializing"], m["idle"], m["busy"], m["frozen"])
}
