package firewall

import (
	"os"
	"strings"
	"testing"
)

// TestExampleRulesInSync keeps configs/server-firewall.sh's listener equal
// to what Spec.Shell generates for its parameters.
func TestExampleRulesInSync(t *testing.T) {
	data, err := os.ReadFile("../../configs/server-firewall.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "# --- listener: generated, sequence 1234, window 3, knock 443, secure 443 ---\n")
	listener, _, ok2 := strings.Cut(rest, "# --- end of listener ---")
	if !ok || !ok2 {
		t.Fatal("configs/server-firewall.sh lacks the listener markers")
	}
	spec := Spec{Sequence: []int{1, 2, 3, 4}, Window: 3, KnockPort: 443, SecurePort: 443}
	if want := spec.Shell("INPUT"); listener != want {
		t.Errorf("configs/server-firewall.sh's listener is stale; want:\n%s", want)
	}
}
