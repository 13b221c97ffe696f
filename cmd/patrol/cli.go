package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/patrolsec/patrol/detections"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // a job or a check failed
	exitInvalid = 2 // bad input: config, detection, flags
)

// A command is one line of `patrol --help`. Adding a command is one entry
// here, one case in runner and one file with its runner, which calls
// flags() and then parse() before it does anything else.
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
	{"silence", "[--config FILE] add --detection ID [--match FIELD=GLOB ...] (--for DURATION | --until TIME) --reason TEXT --owner NAME | list [--json]", "add a silence to silences.toml, or list silences and what they muted"},
	{"shadow", "[--config FILE] [--json] [ID ...]", "show what shadow detections would have done"},
	{"backtest", "[--config FILE] [--detection ID ...] --from T --to T [--json]", "run detections over a past span and show what they would have done, changing nothing"},
	{"resume", "[--config FILE] [--as USER]", "reset the circuit breaker after actions failed in a row"},
	{"import", "sigma [--config FILE] [--out DIR] [--force] PATH...", "convert Sigma rules for AWS CloudTrail into detections"},
	{"coverage", "[--config FILE] [--json] [--navigator FILE]", "show the ATT&CK tactics and techniques the detections cover"},
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
	case "silence":
		return cmdSilence
	case "shadow":
		return cmdShadow
	case "backtest":
		return cmdBacktest
	case "resume":
		return cmdResume
	case "import":
		return cmdImport
	case "coverage":
		return cmdCoverage
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

// dispatch runs the command line args. The command tree (cobra) routes to
// the runner, suggests a command for a typo, prints the overview and
// serves shell completion; each runner parses its own flags with pflag, so
// flags may come before or after positional arguments.
func dispatch(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 {
		usage(errOut)
		return exitInvalid
	}
	if _, err := logLevel(); err != nil && runner(args[0]) != nil {
		fmt.Fprintf(errOut, "patrol: %v\n", err)
		return exitInvalid
	}
	code := exitOK
	root := &cobra.Command{
		Use:           "patrol",
		Short:         "patrol automates cloud security response: detections on a schedule, tickets, notifications, remediation.",
		SilenceErrors: true,
		SilenceUsage:  true,
		// --version is our own flag rather than cobra's Version: cobra
		// prints "patrol version X" unless given a version template, and
		// executing any text/template keeps every exported method of every
		// package in the binary (the linker cannot tell which one a
		// template calls): the binary triples and the idle daemon's RSS goes
		// over issue 20's 40 MB (TestMethodsAreDeadCodeEliminated).
		RunE: func(c *cobra.Command, _ []string) error {
			if v, _ := c.Flags().GetBool("version"); v {
				fmt.Fprintf(out, "patrol %s\n", versionString())
				return nil
			}
			return c.Help() // as cobra does for a command without a run function
		},
	}
	root.Flags().BoolP("version", "v", false, "version for patrol")
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		if c == root {
			usage(errOut)
			return
		}
		code = runner(c.Name())(ctx, []string{"--help"}, out, errOut)
	})
	flagSets := describeCommands()
	for _, c := range commands {
		c, run := c, runner(c.name)
		sub := &cobra.Command{
			Use:                c.name + " " + c.args,
			Short:              c.summary,
			DisableFlagParsing: true, // the runner parses: see parse
			RunE: func(_ *cobra.Command, args []string) error {
				code = run(ctx, args, out, errOut)
				return nil
			},
			ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return nil, cobra.ShellCompDirectiveDefault
			},
		}
		if fs := flagSets[c.name]; fs != nil {
			sub.Flags().AddFlagSet(fs.FlagSet) // known to completion; never parsed by cobra
		}
		root.AddCommand(sub)
	}
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(errOut, "patrol: %v\nRun 'patrol --help' for the commands.\n", err)
		return exitInvalid
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "patrol automates cloud security response: detections on a schedule, tickets, notifications, remediation.")
	fmt.Fprintln(w, "\nUsage: patrol COMMAND [flags] [arguments]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "completion", "print a shell completion script: bash, zsh, fish or powershell")
	fmt.Fprintln(w, "\nRun 'patrol COMMAND --help' for a command's flags; flags may come before or after arguments.")
	fmt.Fprintln(w, "--config defaults to config.toml in the working directory. 'patrol --version' prints the version.")
}

// flagSet is a command's flags: pflag (GNU style, --name value or
// --name=value, anywhere on the line), with Var taking a standard
// flag.Value as the standard library's FlagSet does.
type flagSet struct {
	*pflag.FlagSet
}

// Var defines a flag with a custom value.
func (fs *flagSet) Var(v flag.Value, name, usage string) {
	pv, ok := v.(pflag.Value)
	if !ok {
		pv = typedValue{v}
	}
	fs.FlagSet.Var(pv, name, usage)
}

// typedValue gives a flag.Value the Type method pflag wants.
type typedValue struct{ flag.Value }

func (typedValue) Type() string { return "string" }

// flags makes a command's flag set with --config and a usage line.
func flags(name string, errOut io.Writer) (*flagSet, *string) {
	fs := &flagSet{pflag.NewFlagSet(name, pflag.ContinueOnError)}
	fs.SortFlags = false
	fs.SetOutput(errOut)
	cfg := fs.String("config", "config.toml", "config file")
	_ = fs.SetAnnotation("config", cobra.BashCompFilenameExt, []string{"toml"})
	for _, c := range commands {
		if c.name == name {
			fs.Usage = func() {
				fmt.Fprintf(fs.Output(), "Usage: patrol %s %s\n\n%s.\n\nFlags:\n", c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:])
				fs.PrintDefaults()
				fmt.Fprintln(fs.Output(), "  -h, --help            this help")
			}
		}
	}
	return fs, cfg
}

// describing, while the command tree is being built, receives each
// runner's flag set from parse, which then stops the runner before it does
// anything: that is how completion learns every command's flags.
var (
	describing   func(*flagSet)
	describeOnce sync.Once
	described    map[string]*flagSet
)

func describeCommands() map[string]*flagSet {
	describeOnce.Do(func() {
		described = map[string]*flagSet{}
		for _, c := range commands {
			describing = func(fs *flagSet) { described[c.name] = fs }
			runner(c.name)(context.Background(), nil, io.Discard, io.Discard)
		}
		describing = nil
	})
	return described
}

// parse parses a command's flags, wherever they are on the line; it
// returns an exit code when the command should stop: after --help (usage
// on stderr, as Go's flag package does, 0) or a flag error (named, 2).
func parse(fs *flagSet, args []string) (int, bool) {
	if describing != nil {
		describing(fs)
		return exitOK, true
	}
	errOut := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(longFlags(fs, args))
	fs.SetOutput(errOut)
	if errors.Is(err, pflag.ErrHelp) {
		fs.Usage()
		return exitOK, true
	}
	if err != nil {
		fmt.Fprintf(errOut, "patrol %s: %v\nRun 'patrol %s --help' for its flags.\n", fs.Name(), err, fs.Name())
		return exitInvalid, true
	}
	return 0, false
}

// longFlags rewrites Go-style single-dash long flags (-config x, -json) to
// the GNU form pflag reads, so scripts written for either style work.
// Values of flags are left alone (--from -7d), as is everything after --.
func longFlags(fs *flagSet, args []string) []string {
	out := make([]string, 0, len(args))
	value := false // the previous argument is a flag that takes a value
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if value {
			out, value = append(out, a), false
			continue
		}
		name, hasValue := strings.TrimLeft(a, "-"), strings.Contains(a, "=")
		name, _, _ = strings.Cut(name, "=")
		f := fs.Lookup(name)
		if f != nil && len(name) > 1 && strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			a = "-" + a
		}
		if f != nil && strings.HasPrefix(a, "--") && !hasValue && f.NoOptDefVal == "" {
			value = true
		}
		out = append(out, a)
	}
	return out
}

// wantArgs checks the number of positional arguments: between min and max
// (max < 0: no limit). It prints the problem and returns false when wrong.
func wantArgs(fs *flagSet, min, max int) bool {
	n := fs.NArg()
	switch {
	case n < min:
		fmt.Fprintf(fs.Output(), "patrol %s: missing argument\n", fs.Name())
	case max >= 0 && n > max:
		fmt.Fprintf(fs.Output(), "patrol %s: unexpected argument %q\n", fs.Name(), fs.Arg(max))
	default:
		return true
	}
	fs.Usage()
	return false
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
func (m *multiFlag) Type() string       { return "ID" }

// orLoginName is name, or where it is empty the login name of whoever runs
// patrol: who an undo, a reset or a silence is recorded as.
func orLoginName(name string) string {
	if name == "" {
		if u, err := user.Current(); err == nil {
			return u.Username
		}
	}
	return name
}
