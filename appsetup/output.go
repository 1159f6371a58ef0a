package appsetup

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/previewd/previewd/internal/atomicfile"
)

// The files written into Output.Dir.
const (
	KeyFile     = "github-app-private-key.pem"
	SecretFile  = "webhook-secret"
	ConfigFile  = "previewd-github-app.yaml"
	SecretName  = "previewd"               // the Secret deploy/kubernetes/previewd.yaml reads
	SecretKey   = "github-app-private-key" // its key holding the App's private key
	SecretHook  = "webhook-secret"         // its key holding the webhook secret
	secretPerm  = 0o600
	snippetPerm = 0o644
)

// Output is where the credentials go: files in Dir, or with Kubernetes a
// Secret manifest printed instead.
type Output struct {
	Dir        string // created (0700) when missing
	Kubernetes bool
	Force      bool   // write over existing files
	APIURL     string // written into the snippet when set (GitHub Enterprise Server)
}

// paths are the files Write writes, key first.
func (o Output) paths() []string {
	if o.Kubernetes {
		return nil
	}
	return []string{filepath.Join(o.Dir, KeyFile), filepath.Join(o.Dir, SecretFile), filepath.Join(o.Dir, ConfigFile)}
}

// Check returns an error naming the first file Write would write over,
// unless Force is set.
func (o Output) Check() error {
	if o.Force {
		return nil
	}
	for _, p := range o.paths() {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Write writes c: the private key and the webhook secret (0600) and a
// configuration snippet into Dir, or a Secret manifest to stdout. Without
// Force an existing file is never written over, even one created since
// Check. It returns the files written; on an error, those written before
// it.
func (o Output) Write(c Credentials, stdout io.Writer) ([]string, error) {
	if o.Kubernetes {
		_, err := io.WriteString(stdout, SecretManifest(c))
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	paths := o.paths()
	contents := []struct {
		data string
		perm fs.FileMode
	}{{c.PEM, secretPerm}, {c.WebhookSecret, secretPerm}, {o.snippet(c, paths[0], paths[1]), snippetPerm}}
	var written []string
	for i, p := range paths {
		if err := o.writeFile(p, []byte(contents[i].data), contents[i].perm); err != nil {
			return written, fmt.Errorf("write %s: %w", p, err)
		}
		written = append(written, p)
	}
	fmt.Fprintf(stdout, "previewd setup: registered the GitHub App %s (ID %d); wrote %s\n", c.Slug, c.ID, strings.Join(written, ", "))
	return written, nil
}

func (o Output) writeFile(path string, data []byte, perm fs.FileMode) error {
	if o.Force {
		return atomicfile.WriteFile(path, data, perm)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// snippet is the part of previewd.yaml for the App, with the key file's
// absolute path.
func (o Output) snippet(c Credentials, keyPath, secretPath string) string {
	if abs, err := filepath.Abs(keyPath); err == nil {
		keyPath = abs
	}
	if abs, err := filepath.Abs(secretPath); err == nil {
		secretPath = abs
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# The GitHub App %s (%s), registered by previewd setup.\n", c.Slug, c.HTMLURL)
	fmt.Fprintf(&b, "# Merge into previewd.yaml, and give previewd the webhook secret:\n")
	fmt.Fprintf(&b, "#   export PREVIEWD_WEBHOOK_SECRET=\"$(cat %s)\"\n", secretPath)
	fmt.Fprintf(&b, "github:\n")
	if o.APIURL != "" {
		fmt.Fprintf(&b, "  api_url: %s\n", o.APIURL)
	}
	fmt.Fprintf(&b, "  app_id: %d\n  app_private_key_file: %s\n", c.ID, keyPath)
	return b.String()
}

// SecretManifest returns c as the Kubernetes Secret previewd's manifest
// (deploy/kubernetes/previewd.yaml) reads, with the App ID to set in its
// ConfigMap as a comment.
func SecretManifest(c Credentials) string {
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf(`# The GitHub App %s (%s), registered by previewd setup.
# Set github.app_id: %d in previewd's ConfigMap, and apply this Secret
# (kubectl apply -f FILE): it adds its two keys to the Secret %q.
apiVersion: v1
kind: Secret
metadata:
  name: %s
  labels: {app.kubernetes.io/name: previewd}
type: Opaque
data:
  %s: %s
  %s: %s
`, c.Slug, c.HTMLURL, c.ID, SecretName, SecretName, SecretKey, enc([]byte(c.PEM)), SecretHook, enc([]byte(c.WebhookSecret)))
}
