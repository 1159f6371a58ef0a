package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/previewd/previewd/modules"
	"github.com/previewd/previewd/parity"
	"github.com/previewd/previewd/provisioner"
)

// The checks of one setting's value, which the settings table names.

// optional skips check for a setting left empty.
func optional(check settingCheck) settingCheck {
	return func(key string, v any) error {
		if reflect.ValueOf(v).IsZero() {
			return nil
		}
		return check(key, v)
	}
}

func nonEmpty(key string, v any) error {
	if v.(string) == "" {
		return badSetting(key, "is empty")
	}
	return nil
}

func hostPort(key string, v any) error {
	if _, _, err := net.SplitHostPort(v.(string)); err != nil {
		return badSetting(key, "%q is not host:port", v)
	}
	return nil
}

func absoluteURL(key string, v any) error {
	if u, err := url.Parse(v.(string)); err != nil || u.Scheme == "" || u.Host == "" {
		return badSetting(key, "%q is not an absolute URL", v)
	}
	return nil
}

func httpURL(key string, v any) error {
	if u, err := url.Parse(v.(string)); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return badSetting(key, "%q is not an http(s) URL", v)
	}
	return nil
}

// oneOf accepts only values.
func oneOf(values ...string) settingCheck {
	return func(key string, v any) error {
		if slices.Contains(values, v.(string)) {
			return nil
		}
		if len(values) == 2 {
			return badSetting(key, "%q is not %s or %s", v, values[0], values[1])
		}
		return badSetting(key, "%q is not one of %s", v, strings.Join(values, ", "))
	}
}

func positive(key string, v any) error {
	if d := v.(time.Duration); d <= 0 {
		return badSetting(key, "must be positive, got %s", d)
	}
	return nil
}

func notNegative(key string, v any) error {
	if d := v.(time.Duration); d < 0 {
		return badSetting(key, "must not be negative, got %s", d)
	}
	return nil
}

// atLeast accepts durations of min or more.
func atLeast(min string) settingCheck {
	least, err := parseDuration(min)
	if err != nil {
		panic(err)
	}
	return func(key string, v any) error {
		if d := v.(time.Duration); d < least {
			return badSetting(key, "must be at least %s, got %s", min, d)
		}
		return nil
	}
}

// between accepts whole numbers from lo to hi.
func between(lo, hi int) settingCheck {
	return func(key string, v any) error {
		if n := v.(int); n < lo || n > hi {
			return badSetting(key, "must be between %d and %d, got %d", lo, hi, n)
		}
		return nil
	}
}

// atLeastInt accepts whole numbers of min or more.
func atLeastInt(min int) settingCheck {
	return func(key string, v any) error {
		if n := v.(int); n < min {
			return badSetting(key, "must be at least %d, got %d", min, n)
		}
		return nil
	}
}

func noCap(key string, v any) error {
	if n := v.(int); n < 0 {
		return badSetting(key, "must be 0 (no cap) or more, got %d", n)
	}
	return nil
}

// eachItem checks every item of a list, naming a bad one by its index
// (allowed_repos[1]).
func eachItem(problem func(string) string) settingCheck {
	return func(key string, v any) error {
		for i, item := range v.([]string) {
			if p := problem(item); p != "" {
				return badSetting(fmt.Sprintf("%s[%d]", key, i), "%q %s", item, p)
			}
		}
		return nil
	}
}

func ownerPattern(pattern string) string {
	if _, err := path.Match(pattern, "a/b"); err != nil || !strings.Contains(pattern, "/") {
		return "is not owner/name or owner/*"
	}
	return ""
}

func checkNames(key string, v any) error {
	if slices.Contains(v.([]string), "") {
		return badSetting(key, "a check name is empty")
	}
	return nil
}

func passthroughNames(key string, v any) error {
	for _, name := range v.([]string) {
		if why := provisioner.PassthroughProblem(strings.TrimSpace(name)); why != "" {
			return badSetting(key, "%q: %s", name, why)
		}
	}
	return nil
}

func fixedEnvNames(key string, v any) error {
	env := v.(map[string]string)
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if why := provisioner.FixedEnvProblem(name); why != "" {
			return badSetting(key, "%q: %s", name, why)
		}
	}
	return nil
}

func cliConfigFile(key string, v any) error {
	file := v.(string)
	if info, err := os.Stat(file); err != nil {
		return badSetting(key, "%v", err)
	} else if info.IsDir() {
		return badSetting(key, "%s is a directory, not a CLI configuration file", file)
	}
	return nil
}

func existingDir(key string, v any) error {
	if err := checkDir(v.(string)); err != nil {
		return badSetting(key, "%v", err)
	}
	return nil
}

func moduleSource(key string, v any) error {
	if p := sourceProblem(v.(string)); p != "" {
		return badSetting(key, "%s", p)
	}
	return nil
}

// sourceProblem says what is wrong with a module_source, or "". base
// with one slash ("base/infra") is read as the directory it almost
// certainly means, and refused with the spelling that says so.
func sourceProblem(source string) string {
	if dir, ok := strings.CutPrefix(source, "base/"); ok && !strings.HasPrefix(dir, "/") {
		return fmt.Sprintf("%q: base's directory follows two slashes, as in Terraform's sources: did you mean %q?", source, "base//"+dir)
	}
	if err := modules.ValidSource(source); err != nil {
		return err.Error()
	}
	return ""
}

func engineVersion(key string, v any) error {
	if _, err := parity.ParseEngine(v.(string)); err != nil {
		return badSetting(key, "%v", err)
	}
	return nil
}

func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// outputNameCheck refuses what cannot be a module output's name.
func outputNameCheck(key string, v any) error {
	if s, _ := v.(string); !outputName.MatchString(s) {
		return badSetting(key, "%q is not a module output's name", s)
	}
	return nil
}

// shareCheck takes a share between 0 and 1.
func shareCheck(key string, v any) error {
	if f, _ := v.(float64); f < 0 || f > 1 || f != f {
		return badSetting(key, "%v is not a share between 0 and 1", v)
	}
	return nil
}
