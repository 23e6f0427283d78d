package sqlstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestReadGateFirstComeFirstServed: reads waiting for a full gate get its
// slots in the order they came, which database/sql's pool does not do.
func TestReadGateFirstComeFirstServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newReadGate(2)
		ctx := context.Background()
		for range 2 {
			if err := g.acquire(ctx); err != nil {
				t.Fatal(err)
			}
		}
		order := make(chan int, 8)
		for i := range 8 {
			go func() {
				if err := g.acquire(ctx); err != nil {
					t.Error(err)
					return
				}
				order <- i
			}()
			synctest.Wait() // i waits at the gate before i+1 comes
		}
		if waiting, waits, _ := (&DB{readGate: g}).ReadGateStats(); waiting != 8 || waits != 0 {
			t.Errorf("stats: %d waiting, %d waited; want 8 and 0", waiting, waits)
		}
		time.Sleep(time.Second)
		var got []int
		for range 8 {
			g.release()
			synctest.Wait()
			got = append(got, <-order)
		}
		waiting, waits, waited := (&DB{readGate: g}).ReadGateStats()
		if waiting != 0 || waits != 8 || waited != 8*time.Second {
			t.Errorf("stats: %d waiting, %d waited %v in all; want 0, 8 and 8s", waiting, waits, waited)
		}
		if want := []int{0, 1, 2, 3, 4, 5, 6, 7}; !slices.Equal(got, want) {
			t.Errorf("slots went to %v, want %v", got, want)
		}
		if g.held() != 2 {
			t.Errorf("%d slots held, want 2", g.held())
		}
	})
}

// TestReadGateWaitEnds: a read that waits past its context's end gets the
// context's error and takes no slot.
func TestReadGateWaitEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newReadGate(1)
		if err := g.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := g.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("acquire on a full gate = %v, want the deadline", err)
		}
		if g.held() != 1 {
			t.Errorf("%d slots held, want 1", g.held())
		}
		g.release()
		if err := g.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadGateNil: a pool without a bound has no gate, which admits every
// read.
func TestReadGateNil(t *testing.T) {
	g := newReadGate(0)
	if g != nil {
		t.Fatalf("newReadGate(0) = %v, want nil", g)
	}
	for range 3 {
		if err := g.acquire(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	g.release()
	if g.held() != 0 {
		t.Errorf("a nil gate holds %d slots", g.held())
	}
}

// TestReadGateReleaseTwice: giving back a slot nobody holds panics rather
// than letting one read too many at the pool.
func TestReadGateReleaseTwice(t *testing.T) {
	g := newReadGate(1)
	defer func() {
		if recover() == nil {
			t.Error("a second release did not panic")
		}
	}()
	if err := g.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.release()
	g.release()
}
