package compatfixtures

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures makes a complete fixture directory at dir.
func fixtures(t *testing.T, dir string) string {
	t.Helper()
	for _, m := range markers {
		p := filepath.Join(dir, m)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	explicit := fixtures(t, filepath.Join(root, "elsewhere"))
	ancestor := fixtures(t, filepath.Join(root, "work", "shared", "compat"))
	clone := filepath.Join(root, "work", "ci", "x", "workloads", "consumer")
	lone := filepath.Join(root, "tmp", "x", "workloads", "consumer")
	cache := fixtures(t, filepath.Join(root, "home", ".cache", "streamprocessor-operator", "compat"))
	xdg := fixtures(t, filepath.Join(root, "xdg", "streamprocessor-operator", "compat"))
	incomplete := filepath.Join(root, "incomplete")
	if err := os.MkdirAll(filepath.Join(incomplete, "amazon_kclpy"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{clone, lone} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		start   string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"SP_COMPAT_DIR first", clone, map[string]string{EnvVar: explicit, "HOME": filepath.Join(root, "home")}, explicit, ""},
		{"SP_COMPAT_DIR without fixtures is an error, not a fallback", clone, map[string]string{EnvVar: incomplete}, "", "SP_COMPAT_DIR=" + incomplete + " lacks"},
		{"shared/compat of a parent", clone, map[string]string{"HOME": filepath.Join(root, "home")}, ancestor, ""},
		{"no parent has it: the user cache", lone, map[string]string{"HOME": filepath.Join(root, "home")}, cache, ""},
		{"XDG_CACHE_HOME wins over HOME", lone, map[string]string{"HOME": filepath.Join(root, "home"), "XDG_CACHE_HOME": filepath.Join(root, "xdg")}, xdg, ""},
		{"nowhere: the places searched", lone, map[string]string{"HOME": filepath.Join(root, "nohome")}, "",
			"looked for shared/compat in " + lone + " and each parent, " + filepath.Join(root, "nohome", ".cache", "streamprocessor-operator", "compat")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.start, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Find = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Find = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := Find(lone, func(string) string { return "" }); !errors.Is(err, ErrNotFound) {
		t.Errorf("nothing found: error %v, want ErrNotFound", err)
	}
}
