package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A release version is a tag such as v1.2.3 or v1.2.3-rc.1: also a valid
// image tag, so no build metadata (+…).
var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

// source is what is released: the version, and the commit and its time,
// which dates the image and its files so a rebuild gives the same bytes.
type source struct {
	Version string    `json:"version"`
	Commit  string    `json:"commit"`
	Created time.Time `json:"created"`
}

func releaseSource(o options) (source, error) {
	s := source{Version: o.Version, Commit: gitOutput("rev-parse", "HEAD")}
	if s.Commit == "" {
		s.Commit = "unknown"
	}
	s.Created = commitTime()
	if s.Version == "" {
		tag := gitOutput("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*")
		if !versionPattern.MatchString(tag) {
			tag = "v0.0.0"
		}
		short := s.Commit
		if len(short) > 12 {
			short = short[:12]
		}
		s.Version = tag + "-snapshot." + short
	}
	if !versionPattern.MatchString(s.Version) {
		return s, fmt.Errorf("version %q: want vMAJOR.MINOR.PATCH[-PRERELEASE]", s.Version)
	}
	if !o.Snapshot && !slices.Contains(strings.Fields(gitOutput("tag", "--points-at", "HEAD")), s.Version) {
		return s, fmt.Errorf("%s is not a tag of the commit checked out: tag it, or build a snapshot (--snapshot --version %s)", s.Version, s.Version)
	}
	return s, nil
}

// commitTime is SOURCE_DATE_EPOCH when set, else HEAD's commit time, else
// now.
func commitTime() time.Time {
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		epoch = gitOutput("log", "-1", "--format=%ct")
	}
	if sec, err := strconv.ParseInt(epoch, 10, 64); err == nil {
		return time.Unix(sec, 0).UTC()
	}
	return time.Now().UTC().Truncate(time.Second)
}

// gitOutput runs a read-only git command, "" when it fails.
func gitOutput(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
