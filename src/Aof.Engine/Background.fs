namespace Aof.Engine

// CPU work that must not compete with the event loop for the CPU. Redis's forked rewrite child
// competes with the server on equal terms; a thread of ours can do better and yield to the loop. .NET
// ignores Thread.Priority on Linux, so the thread sets its own policy: SCHED_IDLE, which Linux treats as
// "run only where nothing else wants the CPU". A nice value of 19 alone was not enough: the scheduler still
// counted that thread's core as busy, stacked the loop onto its clients' core, and SET throughput during
// rewrites fell by ~40% (docs/benchmarks.md). Nice 19 stays as the fallback where SCHED_IDLE is refused.

open System
open System.Runtime.InteropServices
open System.Threading

module private NativeThread =
    [<DllImport("libc", SetLastError = true)>]
    extern int gettid()

    [<DllImport("libc", SetLastError = true)>]
    extern int setpriority(int which, int who, int prio)

    /// `param` is a struct sched_param: one int, the static priority (0 for SCHED_IDLE).
    [<DllImport("libc", SetLastError = true)>]
    extern int sched_setscheduler(int pid, int policy, int[] param)

    [<DllImport("libc")>]
    extern int sched_yield()

/// Set on the threads `Background.run` starts.
type private BackgroundThread() =
    [<ThreadStatic; DefaultValue>]
    static val mutable private lowered: bool

    static member Lowered
        with get () = BackgroundThread.lowered
        and set v = BackgroundThread.lowered <- v

module Background =
    /// The nice value of background threads: the lowest priority there is.
    [<Literal>]
    let Nice = 19

    /// Linux's policy for threads that run only on otherwise idle CPUs.
    [<Literal>]
    let SchedIdle = 5

    /// Lowers the calling thread's scheduling priority as far as it goes; true when it did.
    let private yieldToLoop () : bool =
        OperatingSystem.IsLinux()
        && (try
                let niced = NativeThread.setpriority (0 (* PRIO_PROCESS: a tid on Linux *), NativeThread.gettid (), Nice) = 0
                // pid 0: the calling thread.
                let idle = NativeThread.sched_setscheduler (0, SchedIdle, [| 0 |]) = 0
                niced || idle
            with _ ->
                false)

    /// Gives the CPU back if the loop is waiting for it; to be called every few tens of microseconds of
    /// work. SCHED_IDLE does not keep a background thread off a CPU where the loop is runnable: the fair
    /// scheduler still grants it a sliver of time now and then, and once picked it kept the CPU until the
    /// next tick, 4 ms later, while the loop waited (perf sched, docs/benchmarks.md). Yielding is a cheap
    /// system call when nothing else wants the CPU. Does nothing on other threads.
    let pause () : unit =
        if BackgroundThread.Lowered then NativeThread.sched_yield () |> ignore

    /// Runs `work` on a thread of the lowest priority and waits for its result (its exception is raised
    /// here). Only CPU work belongs there: a thread at nice 19 that waited for the executor's lock could
    /// wait for ever behind a busy loop, which takes the lock again before it is scheduled.
    let run (name: string) (work: unit -> 'T) : 'T =
        let mutable result = Unchecked.defaultof<'T>
        let mutable failure: exn = null

        let body () =
            BackgroundThread.Lowered <- yieldToLoop ()

            try
                result <- work ()
            with e ->
                failure <- e

        let t = Thread(body, IsBackground = true, Name = name, Priority = ThreadPriority.Lowest)
        t.Start()
        t.Join()

        if not (isNull failure) then
            Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw()

        result
