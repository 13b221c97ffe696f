package poller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Load watches whether the daemon keeps up with the detections' schedules.
// Time is cut into rounds (one a minute: Round is called by the daemon). A
// round is overloaded when a scheduled run was skipped because the
// detection's previous run was still waiting for a search slot: demand is
// above what the slots can do. After Rounds overloaded rounds in a row, one
// self-alert gives the figures and what to change; Rounds rounds in a row
// without overload clear it.
type Load struct {
	Health *Health
	// Searches returns the searches done so far and the slot time they
	// held (the slot gate's running totals).
	Searches func() (n int64, busy time.Duration)
	// Slots is the number of search slots and SlotsKey the setting that
	// sets them, for the advice.
	Slots    int
	SlotsKey string
	// Rounds in a row before the self-alert (0 = off).
	Rounds int
	Logger *slog.Logger

	mu                    sync.Mutex
	ran, skipped, starved int64 // this round
	lastN                 int64
	lastBusy              time.Duration
	over, clean           int       // rounds in a row
	streak                loadStats // over the current overloaded rounds
}

// loadStats sums rounds.
type loadStats struct {
	rounds                int
	needed, done, starved int64
	busy                  time.Duration
}

// LoadRound is what one round saw.
type LoadRound struct {
	Needed, Done, Skipped, Starved int64
	Overloaded                     bool
}

// Ran counts a scheduled run that started (it may then wait for a slot).
func (l *Load) Ran() {
	l.mu.Lock()
	l.ran++
	l.mu.Unlock()
}

// Skipped counts a scheduled run skipped because the previous one was
// still going; waitingForSlot says it was still waiting for a search slot.
func (l *Load) Skipped(waitingForSlot bool) {
	l.mu.Lock()
	l.skipped++
	if waitingForSlot {
		l.starved++
	}
	l.mu.Unlock()
}

// Round closes a round: it judges it, and raises or clears the overload
// self-alert.
func (l *Load) Round(ctx context.Context) (LoadRound, error) {
	l.mu.Lock()
	var n int64
	var busy time.Duration
	if l.Searches != nil {
		n, busy = l.Searches()
	}
	r := LoadRound{Needed: l.ran + l.skipped, Done: n - l.lastN, Skipped: l.skipped, Starved: l.starved}
	r.Overloaded = r.Starved > 0
	this := loadStats{rounds: 1, needed: r.Needed, done: r.Done, starved: r.Starved, busy: busy - l.lastBusy}
	l.lastN, l.lastBusy = n, busy
	l.ran, l.skipped, l.starved = 0, 0, 0
	if r.Overloaded {
		if l.over == 0 {
			l.streak = loadStats{}
		}
		l.over++
		l.clean = 0
		l.streak.add(this)
	} else {
		l.clean++
		if l.clean >= max(l.Rounds, 1) {
			l.over = 0
		}
	}
	over, clean, streak := l.over, l.clean, l.streak
	l.mu.Unlock()

	if r.Overloaded {
		l.logger().Warn("search slots overloaded this minute: runs were skipped while waiting for a slot",
			"searches_needed", r.Needed, "searches_done", r.Done, "skipped_waiting", r.Starved, "rounds_in_row", over)
	}
	if l.Health == nil || l.Rounds <= 0 {
		return r, nil
	}
	if over >= l.Rounds {
		return r, l.Health.Raise(ctx, "overload", l.summary(streak), l.message(streak))
	}
	if clean >= l.Rounds {
		return r, l.Health.Clear(ctx, "overload", fmt.Sprintf("For %d minutes in a row every scheduled run got a search slot in time.", clean))
	}
	return r, nil
}

func (s *loadStats) add(o loadStats) {
	s.rounds += o.rounds
	s.needed += o.needed
	s.done += o.done
	s.starved += o.starved
	s.busy += o.busy
}

func (l *Load) summary(s loadStats) string {
	return fmt.Sprintf("patrol: detections need about %d searches a minute but only %d run (%d search slots)",
		perMinute(s.needed, s.rounds), perMinute(s.done, s.rounds), l.Slots)
}

func (l *Load) message(s loadStats) Message {
	avg := time.Duration(0)
	if s.done > 0 {
		avg = s.busy / time.Duration(s.done)
	}
	capacity := "-"
	if avg > 0 {
		capacity = fmt.Sprint(int64(time.Duration(l.Slots) * time.Minute / avg))
	}
	return Message{Sections: []Section{{
		Text: fmt.Sprintf("For %d minutes in a row the detections' schedules asked for more searches than the %d search slots can run, "+
			"so scheduled runs were skipped while the previous run still waited for a slot. Nothing is lost: each run searches from the "+
			"detection's checkpoint, and slots go to the detections furthest behind first, so every detection still runs; but detections "+
			"run less often than scheduled and alerts arrive later.", s.rounds, l.Slots),
		Fields: []Field{
			{Name: "Searches needed per minute", Value: fmt.Sprint(perMinute(s.needed, s.rounds))},
			{Name: "Searches done per minute", Value: fmt.Sprint(perMinute(s.done, s.rounds))},
			{Name: "Average search time", Value: avg.Round(time.Millisecond).String()},
			{Name: "Most searches per minute at that time", Value: capacity},
			{Name: "Runs skipped while waiting for a slot", Value: fmt.Sprint(s.starved)},
		},
	}, {
		Heading: "What to change",
		Text: fmt.Sprintf("Raise %s (within what the search backend allows: Splunk's role srchJobsQuota), "+
			"run detections less often (their schedule), or make their searches faster. Lower search.max_window if long "+
			"catch-up searches after downtime hold the slots. This alert clears after %d minutes in a row without skipped runs.", l.SlotsKey, l.Rounds),
	}}}
}

func perMinute(n int64, rounds int) int64 {
	if rounds == 0 {
		return 0
	}
	return (n + int64(rounds)/2) / int64(rounds)
}

func (l *Load) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}
