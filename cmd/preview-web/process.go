package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
)

// start starts a detached server for DIR, waits until it answers and prints
// its URL.
func start(args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions("start", args, stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	if err := stopServer(o.dir, io.Discard); err != nil {
		return fmt.Errorf("stop previous server: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(o.dir, "log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(exe, append(append([]string{"serve"}, o.flags...), o.dir)...)
	cmd.Dir = o.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile // stdin is /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	url, err := waitReady(o.dir, exited)
	if err != nil {
		cmd.Process.Kill()
		return fmt.Errorf("%w; log %s ends:\n%s", err, logFile.Name(), logTail(logFile.Name()))
	}
	fmt.Fprintln(stdout, url)
	return nil
}

// waitReady waits until the server in dir has written its URL and answers
// /healthz there, or exits, or startTimeout passes.
func waitReady(dir string, exited <-chan error) (string, error) {
	deadline := time.After(startTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("server exited: %v", err)
		case <-deadline:
			return "", fmt.Errorf("server not ready after %s", startTimeout)
		case <-time.After(20 * time.Millisecond):
		}
		b, err := os.ReadFile(filepath.Join(dir, "url"))
		if err != nil {
			continue
		}
		url := strings.TrimSpace(string(b))
		if resp, err := client.Get(url + "healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, nil
			}
		}
	}
}

// logTail returns the last lines of the file at path.
func logTail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// stop stops the server of DIR.
func stop(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: preview-web stop DIR")
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	return stopServer(dir, stdout)
}

// stopServer stops the server whose pid DIR/pid holds, if it is still
// running and is the server of dir, and removes its pid and url files.
func stopServer(dir string, out io.Writer) error {
	pid, err := readPid(filepath.Join(dir, "pid"))
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(out, "not running")
		return removeFiles(dir)
	} else if err != nil {
		return err
	}
	if alive(pid) && serverOf(pid, dir) {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		if !waitGone(pid, stopTimeout) {
			syscall.Kill(pid, syscall.SIGKILL)
			if !waitGone(pid, 2*time.Second) {
				return fmt.Errorf("server pid %d does not stop", pid)
			}
		}
		fmt.Fprintf(out, "stopped pid %d\n", pid)
	} else {
		fmt.Fprintln(out, "not running")
	}
	return removeFiles(dir)
}

func removeFiles(dir string) error {
	for _, name := range []string{"url", "pid"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad pid file %s", path)
	}
	return pid, nil
}

// alive reports whether process pid exists and is not a zombie (a server
// whose parent exited is reaped by whatever init the machine has, maybe
// never).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !procMounted() // without /proc, trust kill
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// serverOf reports whether process pid is a preview-web server of dir, so a
// stale pid file never gets an unrelated process killed. Without /proc it
// trusts the pid file.
func serverOf(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return !procMounted()
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	return len(args) >= 3 && args[1] == "serve" && args[len(args)-1] == dir
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

func waitGone(pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return true
		}
	}
	return !alive(pid)
}
