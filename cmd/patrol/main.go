// Command patrol automates cloud security response: it runs detection
// searches on a schedule, turns results into tickets and notifications, and
// enriches and remediates them, automatically or after approval.
package main

import "os"

func main() { os.Exit(run(os.Args[1:])) }
