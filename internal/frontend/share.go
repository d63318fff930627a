package frontend

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/knockssh/knockssh/internal/stanza"
)

// A Share is the connection sharing the wrapper sets up for a knocked
// host: the first command knocks and becomes ssh's ControlMaster, and the
// commands that follow, or wait meanwhile, run over its connection without
// a knock of their own.
type Share struct {
	// Socket is the ControlPath, in a directory only the user can enter.
	Socket string
	// Persist is how long the master outlives its last session.
	Persist time.Duration
	// Log is where the ProxyCommand also writes its messages, which ssh
	// sends to /dev/null when ControlPersist is set (sshconnect.c,
	// ssh_proxy_connect) unless -v is given; RunShared copies them to
	// stderr. "" when ssh's -v keeps them on stderr.
	Log string
}

// maxSocketPath keeps ControlPath within sun_path (104 bytes on the BSDs
// and macOS, 108 on Linux), with room for the ".XXXXXXXXXXXXXXXX" ssh adds
// while it binds.
const maxSocketPath = 104 - 18

// newShare returns the sharing for the host r resolves to, persisting
// persist (stanza.DefaultShare for 0). The socket's name is a hash of the
// local host name and the host name, port and user, as ssh's %C, so that
// one master serves every alias of the same login.
func newShare(r Resolved, persist time.Duration) (*Share, error) {
	if persist == 0 {
		persist = stanza.DefaultShare
	}
	local, _ := os.Hostname() // as %C: a home shared by machines keeps them apart
	sum := sha256.Sum256([]byte(local + "\x00" + r.HostName + "\x00" + r.Port + "\x00" + r.User))
	name := hex.EncodeToString(sum[:16])
	var errs []error
	for _, dir := range shareDirs() {
		sock := filepath.Join(dir, name)
		switch {
		case !filepath.IsAbs(sock):
			errs = append(errs, fmt.Errorf("%s: not an absolute path", sock))
		case len(sock) > maxSocketPath:
			errs = append(errs, fmt.Errorf("%s: longer than a socket path may be", sock))
		case strings.ContainsAny(sock, " \t\"'%\\$~"):
			errs = append(errs, fmt.Errorf("%s: holds characters ssh's ControlPath would take apart", sock))
		default:
			if err := privateDir(dir); err != nil {
				errs = append(errs, err)
				continue
			}
			return &Share{Socket: sock, Persist: persist}, nil
		}
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return nil, errors.New(strings.Join(msgs, "; "))
}

// shareDirs are the directories the sockets may go in, best first: beside
// the knock locks in the cache directory (~/.cache/knockssh/mux), the
// user's runtime directory, a directory of the user's own in the temporary
// directory.
func shareDirs() []string {
	var ds []string
	if d, err := os.UserCacheDir(); err == nil {
		ds = append(ds, filepath.Join(d, "knockssh", "mux"))
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		ds = append(ds, filepath.Join(d, "knockssh"))
	}
	return append(ds, filepath.Join(os.TempDir(), fmt.Sprintf("knockssh-mux-%d", os.Getuid())))
}

// Args returns the ssh options that make ssh use the master, or become it.
func (s *Share) Args() []string {
	return []string{
		"-o", "ControlMaster=auto",
		"-o", "ControlPath=" + s.Socket,
		"-o", s.persistArg(),
	}
}

func (s *Share) persistArg() string {
	return fmt.Sprintf("ControlPersist=%d", int(s.Persist.Round(time.Second)/time.Second))
}

// joinArgv returns argv with its ControlPersist option turned off: a
// command that found a master runs over it, and should the master end
// before ssh connects, ssh becomes a master of its own in the foreground,
// whose ProxyCommand keeps stderr, rather than a background one nobody
// waits for.
func (s *Share) joinArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a == s.persistArg() {
			a = "ControlPersist=no"
		}
		out[i] = a
	}
	return out
}
