package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/previewd/previewd/internal/atomicfile"
)

// options are the flags start takes and hands on to serve.
type options struct {
	addr        string
	port        int
	environment string
	branch      string
	commit      string
	repo        string
	pr          int
	inputs      string // a JSON object
	dir         string // absolute
	flags       []string
}

// parseOptions parses "[flags] DIR".
func parseOptions(name string, args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1", "address to listen on")
	fs.IntVar(&o.port, "port", 0, "preferred port; any free port when taken or 0")
	fs.StringVar(&o.environment, "environment", "", "environment name shown")
	fs.StringVar(&o.branch, "branch", "", "branch shown")
	fs.StringVar(&o.commit, "commit", "", "commit SHA shown")
	fs.StringVar(&o.repo, "repo", "", "repository shown (owner/name)")
	fs.IntVar(&o.pr, "pr", 0, "pull request number shown")
	fs.StringVar(&o.inputs, "inputs", "{}", "other inputs shown, as a JSON object")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() != 1 {
		return options{}, errors.New("want exactly one DIR argument after the flags")
	}
	o.flags = args[:len(args)-1]
	var err error
	if o.dir, err = filepath.Abs(fs.Arg(0)); err != nil {
		return options{}, err
	}
	if _, err := decodeInputs(o.inputs); err != nil {
		return options{}, err
	}
	return o, nil
}

// input is one row of the page's input table.
type input struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// decodeInputs turns a JSON object into rows sorted by name; non-string
// values are shown as JSON.
func decodeInputs(s string) ([]input, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("-inputs: want a JSON object: %w", err)
	}
	rows := make([]input, 0, len(m))
	for k, raw := range m {
		var v string
		if json.Unmarshal(raw, &v) != nil {
			v = string(raw)
		}
		rows = append(rows, input{Name: k, Value: v})
	}
	slices.SortFunc(rows, func(a, b input) int {
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
	return rows, nil
}

// info is what the server shows.
type info struct {
	Environment string    `json:"environment"`
	Branch      string    `json:"branch"`
	Commit      string    `json:"commit"`
	Repo        string    `json:"repo"`
	PR          int       `json:"pr"`
	Inputs      []input   `json:"inputs"`
	Started     time.Time `json:"started"`
	// Migrations is what the server's migrations did: nil without a
	// database.
	Migrations *migrationReport `json:"migrations,omitempty"`
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Environment}} · preview</title></head>
<body>
<h1>Environment {{.Environment}}</h1>
<dl>
<dt>Branch</dt><dd>{{.Branch}}</dd>
<dt>Commit</dt><dd><code>{{.Commit}}</code></dd>
<dt>Repository</dt><dd>{{.Repo}}</dd>
<dt>Pull request</dt><dd>{{if .PR}}#{{.PR}}{{end}}</dd>
<dt>Started</dt><dd>{{.Started.Format "2006-01-02T15:04:05Z07:00"}}</dd>
</dl>
<h2>Inputs</h2>
<table>
{{range .Inputs}}<tr><th>{{.Name}}</th><td><code>{{.Value}}</code></td></tr>
{{end}}</table>
<h2>Data</h2>
{{if .Data}}<table>
{{range .Data}}<tr><th><a href="/data/{{.Name}}">{{.Name}}</a></th><td>{{.Records}} records</td></tr>
{{end}}</table>{{else}}<p>Not seeded.</p>{{end}}
{{with .Migrations}}<h2>Migrations</h2>
{{if .Release}}<p>Release <code>{{.Release}}</code></p>
{{end}}{{if .Applied}}<table>
{{range .Applied}}<tr><th>{{.Name}}</th><td>applied in {{printf "%.2f" .Seconds}} s</td></tr>
{{end}}</table>
{{end}}{{if .Running}}<p>Running {{.Running}}…</p>
{{end}}{{if .Error}}<p>Failed: {{.Error}}</p>
{{end}}{{if .Note}}<p>{{.Note}}</p>
{{end}}{{end}}</body>
</html>
`))

// dataset is one seeded file and how many records (lines) it holds.
type dataset struct {
	Name    string
	Records int
}

// datasets counts the records of each *.jsonl file in dir: the data a seed
// command put there, shared by every instance like a database would be.
func datasets(dir string) []dataset {
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	out := make([]dataset, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, dataset{Name: filepath.Base(f), Records: bytes.Count(b, []byte("\n"))})
	}
	return out
}

// handler serves the page at /, the same as JSON at /info.json, the seeded
// data of dataDir under /data/, and /healthz. The page shows what
// migrations did when there are any (a server with a database).
func handler(in info, dataDir string, migrations *migrator) http.Handler {
	now := func() info {
		if migrations != nil {
			r := migrations.Report()
			in.Migrations = &r
		}
		return in
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		page := struct {
			info
			Data []dataset
		}{now(), datasets(dataDir)}
		pageTemplate.Execute(w, page)
	})
	mux.Handle("GET /data/", http.StripPrefix("/data/", http.FileServer(http.Dir(dataDir))))
	mux.HandleFunc("GET /info.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(now())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return mux
}

// listen listens on addr:port, or on any free port of addr when port is 0 or
// taken.
func listen(addr string, port int) (net.Listener, error) {
	if port != 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		log.Printf("port %d: %v; using any free port", port, err)
	}
	return net.Listen("tcp", net.JoinHostPort(addr, "0"))
}

// serve runs the server in the foreground until SIGTERM or SIGINT. It
// writes DIR/pid and then DIR/url once listening, and removes them when it
// stops, unless another server has taken DIR over. With DATABASE_URL set,
// it migrates the database in the background once listening: start
// returns, and the deploy ends, while the migrations run.
func serve(args []string) error {
	o, err := parseOptions("serve", args, os.Stderr)
	if err != nil {
		return err
	}
	inputs, _ := decodeInputs(o.inputs)
	ln, err := listen(o.addr, o.port)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String() + "/"
	pid := strconv.Itoa(os.Getpid())
	if err := atomicfile.WriteFile(filepath.Join(o.dir, "pid"), []byte(pid+"\n"), 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(o.dir, "url"), []byte(url+"\n"), 0o600); err != nil {
		return err
	}
	log.Printf("serving environment %q commit %s at %s (pid %s)", o.environment, o.commit, url, pid)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var migrations *migrator
	if dbURL := os.Getenv(databaseURLVariable); dbURL != "" {
		migrations = newMigrator(dbURL, os.Getenv(releasesVariable), o.commit, log.Printf)
	}
	srv := &http.Server{
		Handler: handler(info{Environment: o.environment, Branch: o.branch, Commit: o.commit,
			Repo: o.repo, PR: o.pr, Inputs: inputs, Started: time.Now().UTC()}, filepath.Join(filepath.Dir(o.dir), "data"), migrations),
		ReadHeaderTimeout: 5 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	migrated := make(chan struct{})
	go func() {
		defer close(migrated)
		if migrations != nil {
			migrations.run(ctx)
		}
	}()
	select {
	case err = <-served:
	case <-ctx.Done():
		log.Print("stopping")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdownCtx)
	}
	stop() // a migration still running is cancelled
	<-migrated
	if b, _ := os.ReadFile(filepath.Join(o.dir, "pid")); string(b) == pid+"\n" {
		os.Remove(filepath.Join(o.dir, "url"))
		os.Remove(filepath.Join(o.dir, "pid"))
	}
	return err
}
