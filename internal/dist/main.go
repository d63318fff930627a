// Command dist builds knockssh's release: an archive per platform
// (tar.gz; zip for Windows), a .deb and an .rpm for linux amd64 and arm64
// (with nfpm), and SHA256SUMS, all reproducible: the same commit and Go
// give the same bytes. make dist runs it.
//
//	go run ./internal/dist -version v1.2.3 -epoch 1700000000 -out dist
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A target is one platform of the release.
type target struct {
	goos, goarch, goarm string
}

func (t target) name() string {
	if t.goarm != "" {
		return t.goos + "-armv" + t.goarm
	}
	return t.goos + "-" + t.goarch
}

// targets are the platforms people knock from, and the servers (a
// Raspberry Pi at home is armv6, armv7 or arm64).
var targets = []target{
	{"linux", "amd64", ""}, {"linux", "arm64", ""}, {"linux", "arm", "6"}, {"linux", "arm", "7"},
	{"darwin", "amd64", ""}, {"darwin", "arm64", ""},
	{"windows", "amd64", ""}, {"windows", "arm64", ""},
	{"freebsd", "amd64", ""}, {"openbsd", "amd64", ""},
	{"android", "arm64", ""},
}

// packaged are the targets that get a .deb and an .rpm, with nfpm's names
// for their architectures.
var packaged = map[string]string{"linux-amd64": "amd64", "linux-arm64": "arm64"}

// nfpm is the packager, run at a fixed version from the module proxy.
const nfpm = "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0"

// docs are the files every archive holds beside the binary, from the
// repository's root.
var docs = []string{"LICENSE", "THIRD_PARTY_LICENSES", "README.md", "doc", "completions", "configs"}

func main() {
	version := flag.String("version", "", "the version to stamp, such as v1.2.3 or a commit (required)")
	epoch := flag.Int64("epoch", -1, "the time of every file in the archives, in seconds since 1970 (the commit's; required)")
	out := flag.String("out", "dist", "the directory to write to (emptied first)")
	only := flag.String("only", "", "build only these targets, comma-separated, such as linux-amd64")
	flag.Parse()
	if *version == "" || *epoch < 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: dist -version V -epoch SECONDS [-out DIR] [-only TARGETS]")
		os.Exit(2)
	}
	if err := run(*version, time.Unix(*epoch, 0).UTC(), *out, *only); err != nil {
		fmt.Fprintf(os.Stderr, "dist: %v\n", err)
		os.Exit(1)
	}
}

func run(version string, mtime time.Time, out, only string) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "knockssh-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	files, err := docFiles()
	if err != nil {
		return err
	}
	for _, t := range targets {
		if only != "" && !slices.Contains(strings.Split(only, ","), t.name()) {
			continue
		}
		bin := filepath.Join(work, t.name(), "knockssh")
		if t.goos == "windows" {
			bin += ".exe"
		}
		if err := build(t, version, bin); err != nil {
			return err
		}
		base := "knockssh-" + version + "-" + t.name()
		entries := append([]entry{{name: base + "/" + filepath.Base(bin), src: bin, mode: 0o755}}, prefixed(base, files)...)
		var archive string
		if t.goos == "windows" {
			archive = filepath.Join(out, base+".zip")
			err = writeZip(archive, entries, mtime)
		} else {
			archive = filepath.Join(out, base+".tar.gz")
			err = writeTarGz(archive, entries, mtime)
		}
		if err != nil {
			return err
		}
		fmt.Println(archive)
		if arch, ok := packaged[t.name()]; ok {
			for _, format := range []string{"deb", "rpm"} {
				if err := pack(format, arch, version, bin, mtime, out, work); err != nil {
					return err
				}
			}
		}
	}
	return writeSums(out)
}

// build compiles knockssh for t, stamped with version; -trimpath and an
// empty build ID keep the bytes independent of the machine.
func build(t target, version, bin string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X github.com/knockssh/knockssh/internal/cli.Version="+version,
		"-o", bin, "./cmd/knockssh")
	cmd.Env = append(os.Environ(), "GOOS="+t.goos, "GOARCH="+t.goarch, "GOARM="+t.goarm, "CGO_ENABLED=0", "GOFLAGS=",
		"GOAMD64=v1", "GOARM64=v8.0", "GOEXPERIMENT=") // the defaults, not the caller's
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", t.name(), err)
	}
	return nil
}

// An entry is one file of an archive.
type entry struct {
	name string // in the archive, with slashes
	src  string // on disk
	mode fs.FileMode
}

// docFiles lists the docs as git has them: the files it tracks, with the
// modes it records (untracked files and the checkout's own modes stay
// out).
func docFiles() ([]entry, error) {
	out, err := exec.Command("git", append([]string{"ls-files", "-s", "-z", "--"}, docs...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w", err)
	}
	var es []entry
	for _, rec := range strings.Split(string(out), "\x00") {
		// 100644 <hash> <stage>\t<path>
		meta, p, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(meta, "100755") {
			mode = 0o755
		}
		es = append(es, entry{name: p, src: filepath.FromSlash(p), mode: mode})
	}
	if len(es) == 0 {
		return nil, errors.New("git ls-files lists none of the docs")
	}
	return es, nil
}

func prefixed(base string, es []entry) []entry {
	out := make([]entry, len(es))
	for i, e := range es {
		out[i] = entry{name: base + "/" + e.name, src: e.src, mode: e.mode}
	}
	return out
}

// dirs returns the directories the entries need, parents first.
func dirs(es []entry) []string {
	seen := map[string]bool{}
	var ds []string
	for _, e := range es {
		for d := path.Dir(e.name); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds
}

// writeTarGz writes a tar.gz whose bytes depend on the entries' contents
// only: sorted names, one mtime, owner root, no gzip name or time.
func writeTarGz(name string, es []entry, mtime time.Time) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	for _, d := range dirs(es) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	for _, e := range es {
		data, err := os.ReadFile(e.src)
		if err != nil {
			return err
		}
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: int64(e.mode), Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(name, buf.Bytes(), 0o644)
}

// writeZip writes a zip in the same way, for Windows.
func writeZip(name string, es []entry, mtime time.Time) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	for _, e := range es {
		data, err := os.ReadFile(e.src)
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(name, buf.Bytes(), 0o644)
}

// debVersion turns a tag (v1.2.3) into a package version (1.2.3), and a
// commit into 0.0.0~git.COMMIT, which sorts before any release.
func debVersion(v string) string {
	// v1.2.3, v1.2.3-rc1 (before 1.2.3: ~), then git describe's -N-gHASH
	// and -dirty (after it: +).
	m := regexp.MustCompile(`^v([0-9]+(?:\.[0-9]+)*)(?:-([0-9A-Za-z.]+?))??(?:-([0-9]+)-g([0-9a-f]+))?(-dirty)?$`).FindStringSubmatch(v)
	if m == nil {
		return "0.0.0~git." + regexp.MustCompile(`[^0-9A-Za-z.]`).ReplaceAllString(v, ".")
	}
	out := m[1]
	if m[2] != "" && m[2] != "dirty" {
		out += "~" + m[2]
	}
	if m[3] != "" {
		out += "+" + m[3] + ".g" + m[4]
	}
	if m[5] != "" || m[2] == "dirty" {
		out += "+dirty"
	}
	return out
}

// zshDir is where each family's zsh looks for packaged completions.
var zshDir = map[string]string{"deb": "/usr/share/zsh/vendor-completions", "rpm": "/usr/share/zsh/site-functions"}

// pack builds the .deb or .rpm of the linux binary bin with nfpm.
func pack(format, arch, version, bin string, mtime time.Time, out, work string) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	contents := []struct{ src, dst, mode string }{
		{bin, "/usr/bin/knockssh", "0755"},
		{"doc/knockssh.1", "/usr/share/man/man1/knockssh.1", "0644"},
		{"doc/knock_config.5", "/usr/share/man/man5/knock_config.5", "0644"},
		// The compat directory, which bash-completion sources at start, so
		// that "complete -p knockssh" answers in a new shell; the 60 lines
		// cost it well under a millisecond.
		{"completions/knockssh.bash", "/etc/bash_completion.d/knockssh", "0644"},
		{"completions/_knockssh", zshDir[format] + "/_knockssh", "0644"},
		{"completions/knockssh.fish", "/usr/share/fish/vendor_completions.d/knockssh.fish", "0644"},
		{"LICENSE", "/usr/share/doc/knockssh/LICENSE", "0644"},
		{"THIRD_PARTY_LICENSES", "/usr/share/doc/knockssh/THIRD_PARTY_LICENSES", "0644"},
		{"README.md", "/usr/share/doc/knockssh/README.md", "0644"},
	}
	// The examples as git has them, subdirectories (configs/ansible)
	// included, and with git's modes.
	docs, err := docFiles()
	if err != nil {
		return err
	}
	var examples []entry
	for _, e := range docs {
		if rest, ok := strings.CutPrefix(e.name, "configs/"); ok {
			examples = append(examples, entry{name: rest, src: e.src, mode: e.mode})
		}
	}
	slices.SortFunc(examples, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	fmt.Fprintf(&b, "name: knockssh\narch: %s\nplatform: linux\nversion: %q\nversion_schema: none\nrelease: \"1\"\n", arch, debVersion(version))
	fmt.Fprintf(&b, "mtime: %q\n", mtime.Format(time.RFC3339))
	b.WriteString("section: net\npriority: optional\nmaintainer: The knockssh Authors <knockssh@users.noreply.github.com>\n")
	b.WriteString("description: ssh to hosts behind an Open Sesamy port-knocking firewall\n")
	b.WriteString("homepage: https://github.com/knockssh/knockssh\nlicense: BSD-3-Clause\n")
	// nfpm puts the host's name in an rpm unless told, and globs src paths.
	b.WriteString("disable_globbing: true\nrpm:\n  buildhost: knockssh\n")
	b.WriteString("recommends:\n  - openssh-client\n  - bash-completion\nsuggests:\n  - iptables\ncontents:\n")
	for _, c := range contents {
		src := c.src
		if !filepath.IsAbs(src) {
			src = filepath.Join(root, src)
		}
		fmt.Fprintf(&b, "  - src: %q\n    dst: %q\n    file_info:\n      mode: %s\n", src, c.dst, c.mode)
		if strings.HasPrefix(c.dst, "/etc/") {
			b.WriteString("    type: config\n") // a conffile: the admin's edits stay
		}
	}
	for _, e := range examples {
		fmt.Fprintf(&b, "  - src: %q\n    dst: %q\n    file_info:\n      mode: %04o\n", filepath.Join(root, e.src), "/usr/share/doc/knockssh/examples/"+e.name, e.mode)
	}
	cfg := filepath.Join(work, "nfpm-"+arch+".yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	target := filepath.Join(out, fmt.Sprintf("knockssh_%s_linux_%s.%s", debVersion(version), arch, format))
	cmd := exec.Command("go", "run", nfpm, "package", "--config", cfg, "--packager", format, "--target", target)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", mtime.Unix()), "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nfpm %s %s: %w\n%s", format, arch, err, stderr.Bytes())
	}
	fmt.Println(target)
	return nil
}

// writeSums writes SHA256SUMS for every file of out, sorted by name.
func writeSums(out string) error {
	names, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, de := range names {
		if de.IsDir() || de.Name() == "SHA256SUMS" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, de.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%x  %s\n", sha256.Sum256(data), de.Name())
	}
	if b.Len() == 0 {
		return errors.New("nothing built")
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(b.String()), 0o644)
}
