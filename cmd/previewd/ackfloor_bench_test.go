package main

// BenchmarkWebhookAck's floor: a small program doing only the essential
// work of an acknowledgement, served beside previewd in the same process
// and loaded by the same client with the same deliveries.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/previewd/previewd/internal/benchtest"
	"github.com/previewd/previewd/internal/pgtest"
	"github.com/previewd/previewd/server"
	bolt "go.etcd.io/bbolt"
)

// ackFloor is a running floor: a server on 127.0.0.1 that reads a delivery's
// body (bounded as previewd bounds it), verifies its HMAC-SHA256 signature in
// constant time, decodes the few fields previewd uses, commits one durable
// record of it and answers 202. Whatever previewd does beyond that is what
// its acknowledgement costs over the floor.
type ackFloor struct {
	url      string              // where deliveries are posted
	name     string              // what the floor commits, for the figures
	recorded func() (int, error) // how many deliveries it recorded
}

// ackFields are the fields of a pull_request delivery previewd acts on.
type ackFields struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest struct {
		UpdatedAt time.Time `json:"updated_at"`
		Head      struct {
			SHA string `json:"sha"`
			Ref string `json:"ref"`
		} `json:"head"`
	} `json:"pull_request"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
}

// ackRecord is the floor's durable record of one delivery.
type ackRecord struct {
	Repo       string    `json:"repo"`
	Number     int       `json:"number"`
	SHA        string    `json:"sha"`
	ReceivedAt time.Time `json:"received_at"`
}

// startAckFloor serves a floor until the benchmark ends; commit makes one
// delivery's record durable before it returns.
func startAckFloor(b *testing.B, name string, commit func(ctx context.Context, delivery string, rec ackRecord) error, recorded func() (int, error)) *ackFloor {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		delivery := req.Header.Get("X-GitHub-Delivery")
		if delivery == "" || req.ContentLength > server.MaxWebhookBody {
			http.Error(w, "no delivery ID, or too large", http.StatusBadRequest)
			return
		}
		body, err := readAckBody(w, req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !ackSigned(body, req.Header.Get("X-Hub-Signature-256")) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var f ackFields
		if err := json.Unmarshal(body, &f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec := ackRecord{Repo: f.Repository.FullName, Number: f.Number, SHA: f.PullRequest.Head.SHA, ReceivedAt: time.Now().UTC()}
		if err := commit(req.Context(), delivery, rec); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(srv.Close)
	return &ackFloor{url: srv.URL + "/webhooks/github", name: name, recorded: recorded}
}

// readAckBody reads req's body, at most server.MaxWebhookBody bytes, into a
// buffer of the length the request declares (previewd's reading, without
// its budget of bytes in flight).
func readAckBody(w http.ResponseWriter, req *http.Request) ([]byte, error) {
	size := req.ContentLength
	if size < 0 {
		size = 64 << 10
	}
	body := make([]byte, 0, size+1)
	r := http.MaxBytesReader(w, req.Body, server.MaxWebhookBody)
	for {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		n, err := r.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// ackSigned reports whether header is "sha256=" and the hex HMAC-SHA256 of
// body with the tests' webhook secret, compared in constant time.
func ackSigned(body []byte, header string) bool {
	digits, ok := strings.CutPrefix(header, "sha256=")
	got, err := hex.DecodeString(digits)
	if !ok || err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// boltAckFloor is the floor on a bbolt file of its own: one Put per
// delivery through db.Batch, so deliveries arriving together share one
// fsynced commit. The file is opened and tuned as previewd's store opens
// its own (store.Open: no freelist sync, 2ms batch delay), so that the
// ratio measures work, not settings.
func boltAckFloor(b *testing.B) *ackFloor {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "ackfloor.db"), 0o600, &bolt.Options{
		Timeout: time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.MaxBatchDelay = 2 * time.Millisecond
	bucket := []byte("deliveries")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	return startAckFloor(b, "bbolt Batch Put, fsync", func(_ context.Context, delivery string, rec ackRecord) error {
		value, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(delivery), value) })
	}, func() (n int, err error) {
		err = db.View(func(tx *bolt.Tx) error { n = tx.Bucket(bucket).Stats().KeyN; return nil })
		return n, err
	})
}

// postgresAckFloor is the floor on a PostgreSQL database of its own: one
// INSERT of one row per delivery, committed as the server commits
// (synchronous_commit as it has it), through a pool sized as previewd's
// store pool is (postgres.Open: pgxpool.New on the URL alone).
func postgresAckFloor(b *testing.B) *ackFloor {
	b.Helper()
	url, conn := pgtest.Database(b)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE deliveries (id text PRIMARY KEY, repo text NOT NULL,
number integer NOT NULL, sha text NOT NULL, received_at timestamptz NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	var syncCommit string
	if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&syncCommit); err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	name := fmt.Sprintf("1 INSERT, pool %d, synchronous_commit %s", pool.Config().MaxConns, syncCommit)
	return startAckFloor(b, name, func(ctx context.Context, delivery string, rec ackRecord) error {
		_, err := pool.Exec(ctx, "INSERT INTO deliveries (id, repo, number, sha, received_at) VALUES ($1, $2, $3, $4, $5)",
			delivery, rec.Repo, rec.Number, rec.SHA, rec.ReceivedAt)
		return err
	}, func() (n int, err error) {
		err = pool.QueryRow(ctx, "SELECT count(*) FROM deliveries").Scan(&n)
		return n, err
	})
}

// ackRun is one load's latencies and wall time.
type ackRun struct {
	lat  []time.Duration
	wall time.Duration
}

func (r *ackRun) add(lat []time.Duration, wall time.Duration) {
	r.lat = append(r.lat, lat...)
	r.wall += wall
}

func (r ackRun) perSecond() float64 { return float64(len(r.lat)) / r.wall.Seconds() }

// checkRecorded fails the benchmark unless the floor recorded as many
// deliveries as it acknowledged: a floor that skipped its commit would
// flatter itself.
func (f *ackFloor) checkRecorded(b *testing.B, want int) {
	b.Helper()
	got, err := f.recorded()
	if err != nil {
		b.Fatalf("count the floor's records: %v", err)
	}
	if got != want {
		b.Fatalf("the floor recorded %d deliveries, want %d", got, want)
	}
}

// ackFigures are the acknowledgement's figures on store: previewd's run
// beside the floor's under the same load.
func ackFigures(store string, got, floor ackRun, floorName string) []benchtest.Figure {
	return []benchtest.Figure{
		{Name: "ack p50, " + store, Unit: "ms", Value: ms(percentile(got.lat, 0.5)), Floor: ms(percentile(floor.lat, 0.5)), FloorName: floorName, Goal: 1.3},
		{Name: "ack p99, " + store, Unit: "ms", Value: ms(percentile(got.lat, 0.99)), Floor: ms(percentile(floor.lat, 0.99)), FloorName: floorName, Limit: 100},
		{Name: "deliveries/s, " + store, Unit: "1/s", Value: got.perSecond(), Floor: floor.perSecond(), FloorName: floorName, HigherBetter: true},
	}
}

// reportAck reports the figures, and each under a name of its own too:
// benchtest.Report names a metric after its unit, so of figures sharing a
// unit the benchmark's line would show only the last.
func reportAck(b *testing.B, figures []benchtest.Figure) {
	b.Helper()
	for _, f := range figures {
		benchtest.Report(b, f)
	}
	for _, m := range []struct {
		f    benchtest.Figure
		unit string
	}{{figures[0], "p50-ms"}, {figures[1], "p99-ms"}, {figures[2], "deliveries/s"}} {
		b.ReportMetric(m.f.Value, m.unit)
		b.ReportMetric(m.f.Floor, "floor-"+m.unit)
	}
	b.ReportMetric(figures[0].Ratio(), "p50-ratio")
}

// profileAck writes a CPU profile of this process, previewd and the load's
// client alike, while load runs, as .cache/bench/name at the repository's
// root, and returns its path; "" when the process is already profiled
// (go test -cpuprofile), and then load does not run.
func profileAck(b *testing.B, name string, load func()) string {
	b.Helper()
	dir, err := filepath.Abs("../../.cache/bench")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, name)
	file, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer file.Close()
	if err := pprof.StartCPUProfile(file); err != nil {
		b.Logf("no profile %s: %v", name, err)
		os.Remove(path)
		return ""
	}
	load()
	pprof.StopCPUProfile()
	return path
}
