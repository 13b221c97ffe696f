package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/patrolsec/patrol/detections"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a job or a check failed
	exitInvalid = 2 // bad input: config, detection, flags
)

type command struct {
	name, args, summary string
}

var commands = []command{
	{"run", "[--config FILE]", "run the daemon: every detection on its schedule and the ticket poll"},
	{"once", "[--config FILE] [--detection ID ...]", "run each detection once over its window, then one respond pass"},
	{"validate", "[--config FILE] [--remote]", "check the config and every detection; print file:line: problems"},
	{"test", "[--config FILE] [ID ...]", "run detections' test cases offline with the local engine"},
	{"status", "[--config FILE] [--json]", "show checkpoints, runs, failures, open alerts, pending approvals"},
	{"search", "[--config FILE] [--from T] [--to T] 'SPL'", "run an ad-hoc search; print one JSON object per result"},
	{"tickets", "[--config FILE] [--json] [KEY]", "list the tickets patrol made or handled, or show one"},
	{"approve", "[--config FILE] --as USER KEY", "approve a pending remediation on a local ticket"},
	{"undo", "[--config FILE] [--as USER] ACTION_ID", "revert a remediation from the snapshot taken before it ran"},
	{"report", "[--config FILE] [--from T] [--to T] [--out FILE] [--format html|csv|json]", "write a report of detection and response over a span: one self-contained HTML page"},
}

func runner(name string) func(ctx context.Context, args []string, out, errOut io.Writer) int {
	switch name {
	case "run":
		return cmdRun
	case "once":
		return cmdOnce
	case "validate":
		return cmdValidate
	case "test":
		return cmdTest
	case "status":
		return cmdStatus
	case "search":
		return cmdSearch
	case "tickets":
		return cmdTickets
	case "approve":
		return cmdApprove
	case "undo":
		return cmdUndo
	case "report":
		return cmdReport
	}
	return nil
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return dispatch(ctx, args, os.Stdout, os.Stderr)
}

func dispatch(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(errOut)
		if len(args) == 0 {
			return exitInvalid
		}
		return exitOK
	}
	if run := runner(args[0]); run != nil {
		return run(ctx, args[1:], out, errOut)
	}
	fmt.Fprintf(errOut, "patrol: unknown command %q\n\n", args[0])
	usage(errOut)
	return exitInvalid
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "patrol automates cloud security response: detections on a schedule, tickets, notifications, remediation.")
	fmt.Fprintln(w, "\nUsage: patrol COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'patrol COMMAND --help' for a command's flags. --config defaults to config.toml in the working directory.")
}

// flags makes a command's flag set with --config and a usage line.
func flags(name string, errOut io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg := fs.String("config", "config.toml", "config file")
	for _, c := range commands {
		if c.name == name {
			fs.Usage = func() {
				fmt.Fprintf(errOut, "Usage: patrol %s %s\n\n%s.\n\nFlags:\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
				fs.PrintDefaults()
			}
		}
	}
	return fs, cfg
}

// parse parses flags; it returns an exit code when the command should stop.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitInvalid, true
	}
	return 0, false
}

// printProblems prints every problem in err as file:line: key: message.
func printProblems(w io.Writer, err error) {
	ps := detections.Problems(err)
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
	wd, _ := os.Getwd()
	for _, p := range ps {
		if rel, err := filepath.Rel(wd, p.File); err == nil && filepath.IsAbs(p.File) && !strings.HasPrefix(rel, "..") {
			p.File = rel
		}
		fmt.Fprintln(w, p.Error())
	}
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
