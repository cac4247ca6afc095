namespace Aof.Engine

// Background work that must not compete with the event loop for the CPU. Redis's forked rewrite child
// competes with the server on equal terms; a thread of ours can do better and yield to the loop. .NET
// ignores Thread.Priority on Linux, so the thread lowers its own nice value (per thread on Linux).

open System
open System.Runtime.InteropServices
open System.Threading

module private NativeThread =
    [<DllImport("libc", SetLastError = true)>]
    extern int gettid()

    [<DllImport("libc", SetLastError = true)>]
    extern int setpriority(int which, int who, int prio)

module Background =
    /// The nice value of background threads: the lowest priority there is.
    [<Literal>]
    let Nice = 19

    /// Lowers the calling thread's scheduling priority as far as it goes; true when it did.
    let private yieldToLoop () : bool =
        OperatingSystem.IsLinux()
        && (try
                NativeThread.setpriority (0 (* PRIO_PROCESS: a tid on Linux *), NativeThread.gettid (), Nice) = 0
            with _ ->
                false)

    /// Starts `work` on a background thread of the lowest priority.
    let start (name: string) (work: unit -> unit) : unit =
        let run () =
            yieldToLoop () |> ignore
            work ()

        Thread(run, IsBackground = true, Name = name, Priority = ThreadPriority.Lowest).Start()
