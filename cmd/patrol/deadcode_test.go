package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestMethodsAreDeadCodeEliminated fails when the patrol binary reaches a
// function the compiler marked ReflectMethod: one that calls
// reflect.Value.Method, or MethodByName with a name not known at compile
// time, as text/template and html/template execution do (cobra's
// Set*Template, a report page rendered by a template). The linker then
// keeps every exported method of every reachable type: the binary went
// from 33 MB to 90 MB and the idle daemon from 34 MB to 53 MB RSS, over
// issue 20's 40 MB. (MethodByName with a constant name, as go-sqlite3's
// aggregate functions use it, keeps only methods of that name and is fine.)
func TestMethodsAreDeadCodeEliminated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds patrol: -short skips it")
	}
	buildPatrol(t)
	if !built.deps.reached("main.main") {
		t.Fatal("the linker printed no dependency graph with -ldflags=-dumpdep: has its output changed?")
	}
	// The first one reached is a cause; once one is reached, the methods of
	// reflect.Value are kept too, and some of them are marked as well.
	if rm := built.deps.reflectMethod; len(rm) > 0 {
		t.Errorf("method dead-code elimination is off: %s calls reflect.Value.Method or MethodByName with a name the linker cannot know (template execution?). How it is reached:\n  %s\nMarked as well (other causes or consequences): %s",
			rm[0], strings.Join(built.deps.path(rm[0]), "\n  → "), strings.Join(rm[1:], ", "))
	}
}

// linkDeps is what the linker printed with -dumpdep: each symbol it
// reached, with the symbol it was first reached from (a spanning tree from
// the program's roots), and the reached symbols marked <ReflectMethod>, in
// the order the linker reached them.
type linkDeps struct {
	parent        map[string]string
	reflectMethod []string
}

func (d linkDeps) reached(sym string) bool {
	_, ok := d.parent[sym]
	return ok
}

// path is how sym was first reached, from a root down to sym.
func (d linkDeps) path(sym string) []string {
	var out []string
	for s := sym; s != "_" && s != "" && len(out) < 200; s = d.parent[s] {
		out = append([]string{s}, out...)
	}
	return out
}

// buildWithDeps builds cmd/patrol to bin with -ldflags=-dumpdep and reads
// the graph the linker prints ("from -> to", a name followed by flags such
// as " <ReflectMethod>"). -dumpdep does not change the code built.
func buildWithDeps(bin string) (linkDeps, error) {
	cmd := exec.Command("go", "build", "-ldflags=-dumpdep", "-o", bin, ".")
	var other bytes.Buffer // what is not the graph: compiler and linker errors
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return linkDeps{}, err
	}
	cmd.Stderr = cmd.Stdout // go build prints the linker's output on stderr
	if err := cmd.Start(); err != nil {
		return linkDeps{}, err
	}
	d := linkDeps{parent: map[string]string{}}
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		from, to, ok := strings.Cut(sc.Text(), " -> ")
		if !ok {
			other.WriteString(sc.Text() + "\n")
			continue
		}
		name, flags, _ := strings.Cut(to, " <")
		d.parent[name], _, _ = strings.Cut(from, " <")
		if strings.Contains(flags, "ReflectMethod>") {
			d.reflectMethod = append(d.reflectMethod, name)
		}
	}
	scanErr := sc.Err()
	io.Copy(io.Discard, pipe) // the rest, had a line been too long, so the build can end
	if err := cmd.Wait(); err != nil {
		return d, fmt.Errorf("build: %v\n%s", err, other.String())
	}
	return d, scanErr
}
