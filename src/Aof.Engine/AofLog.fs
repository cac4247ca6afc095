namespace Aof.Engine

// The durable log: how events reach the incr file.
//
// 1. Append. Under the executor's lock, each command's (or transaction's) events are serialized into the
//    in-memory buffer, in execution order, with a SELECT when the database changes and MULTI/EXEC around a
//    unit of several events. The buffer's logical end after a batch is that batch's commit point; a batch
//    of reads has one too (everything appended before it), so no reply shows a write before it is durable.
// 2. Commit, before any reply of the batch is sent. With a host event loop (RoundBell), a batch that
//    wrote waits (asynchronously) for the end of the loop's round: the loop has then run every command that
//    had arrived, and commits them all at once, as Redis does before its loop sleeps:
//    - `always`: one write(2) and one fdatasync for the whole round (group commit), then every batch it
//      covers is released and its replies are sent, all on the loop's thread.
//    - `everysec` and `no`: one write(2) for the whole round, no sync. `everysec` syncs from the background
//      thread at most once a second; while a sync is still running, writes are postponed for up to 2 s
//      (the replies go out meanwhile, as in Redis) and then done anyway, counted in aof_delayed_fsync.
//      `no` leaves syncing to the OS.
//    Without a loop (an embedded engine), `always` batches wait for the syncer thread, which writes and
//    syncs whatever is buffered and releases what that covered; `everysec` and `no` batches write before
//    they return.
// 3. Failure. Under `always` a failed write or sync is fatal: the server logs and exits, as Redis does,
//    because an acknowledged write could not be made durable. Otherwise the partial write is cut off the
//    file, the data stays buffered and is retried from the timer, the status becomes `err`, and writes are
//    refused with -MISCONF until a retry succeeds. Nothing acknowledged is dropped from the buffer.
//
// What a crash leaves: the incr file holds every committed batch (synced ones for certain), possibly
// followed by a torn tail of the batch being written, which loading detects and truncates.

open System
open System.Buffers
open System.Collections.Generic
open System.Threading
open System.Threading.Tasks
open System.Threading.Tasks.Sources
open Aof.Core

[<RequireQualifiedAccess>]
type SyncPolicy =
    | Always
    | EverySec
    | No

/// What a batch waiting for its commit awaits: reused from a pool instead of a Task per batch. Completed
/// once by the commit that covers it; its awaiter reads it once (the ValueTask contract), which returns it.
[<Sealed; AllowNullLiteral>]
type private DurableWaiter(pool: Collections.Concurrent.ConcurrentQueue<DurableWaiter>) =
    let mutable core = ManualResetValueTaskSourceCore<bool>()

    static member Rent(pool: Collections.Concurrent.ConcurrentQueue<DurableWaiter>) =
        match pool.TryDequeue() with
        | true, w -> w
        | _ -> DurableWaiter pool

    member this.AsValueTask() = ValueTask(this :> IValueTaskSource, core.Version)

    member _.Complete() = core.SetResult true

    interface IValueTaskSource with
        member _.GetStatus(token) = core.GetStatus token
        member _.OnCompleted(continuation, state, token, flags) = core.OnCompleted(continuation, state, token, flags)

        member this.GetResult(token) =
            core.GetResult token |> ignore
            core.Reset()
            pool.Enqueue this

[<Sealed>]
type AofLog(sink: IFileSink, initialPolicy: SyncPolicy, timestamps: bool, log: Log, exit: int -> unit) =
    let bufferLock = obj ()
    // Appends go to `buffer`; a write takes it and leaves `spare` (empty) in its place.
    let mutable buffer = ArrayBufferWriter<byte>(64 * 1024)
    let mutable spare = ArrayBufferWriter<byte>(64 * 1024)
    // The database the file's last SELECT chose; -1 forces a SELECT first in a new file.
    let mutable selectedDb = -1
    let mutable lastTimestamp = 0L
    // Logical positions: bytes ever appended to the buffer, written to the file, known synced.
    let mutable appended = 0L
    let mutable written = 0L
    let mutable synced = 0L
    let writeLock = obj ()
    let mutable policy = initialPolicy
    let mutable writeError: string option = None
    let mutable fatal = false
    let mutable delayedFsyncs = 0L
    let mutable syncRunning = false
    let mutable postponedSinceMs = 0L
    let mutable closed = false
    // `no-appendfsync-on-rewrite yes` while a rewrite runs: writes go on, syncs wait.
    let mutable skipSync = false
    let wake = new AutoResetEvent(false)
    // Set by a host that has an event loop: under `always` the loop itself then writes, syncs and sends
    // the replies, once per round of the socket events it handles, as Redis syncs before its loop sleeps.
    // The loop rings it when a batch starts waiting, and it sounds after the events already in hand. A
    // syncer thread that synced while the loop went on measured slower: the replies it sent from its own
    // thread cost more than the sync, and the hand-offs between the two threads left the syncs small.
    let mutable roundBell: Action = null
    // 1 from the first batch that waits until its round's sync starts: one ring per round.
    let mutable roundAsked = 0
    // Batches waiting for their round's commit (or, without a loop, for the syncer under `always`): the
    // position each needs durable, and its completion.
    let waiters = List<struct (int64 * DurableWaiter)>()
    let waiterPool = Collections.Concurrent.ConcurrentQueue<DurableWaiter>()

    let nowMs () = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()

    let fail (message: string) =
        log.Warning message
        fatal <- true
        exit 1

    /// Writes what is buffered; the caller holds the write lock. The buffer is swapped for the empty spare
    /// under the buffer lock and written outside it, so appends (made under the executor's lock) never wait
    /// for the disk. On failure the bytes go back in front of whatever was appended meanwhile, for a retry.
    let writeBuffered () =
        let mutable taken = Unchecked.defaultof<ArrayBufferWriter<byte>>
        Monitor.Enter bufferLock

        try
            if buffer.WrittenCount > 0 then
                taken <- buffer
                buffer <- spare
                spare <- null
        finally
            Monitor.Exit bufferLock

        if not (isNull taken) then
            let before = sink.Length

            try
                sink.Write taken.WrittenSpan
                written <- written + int64 taken.WrittenCount
                taken.ResetWrittenCount()

                if writeError.IsSome then
                    log.Warning "AOF write error looks solved, Redis can write again."
                    writeError <- None
            with WriteFailed reason ->
                if policy = SyncPolicy.Always then
                    log.Warning(sprintf "Error writing to the AOF file: %s" reason)
                    fail "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."

                // Cut off whatever part of the failed write reached the file, so the file never holds a
                // torn command in the middle; the retry appends the whole buffer again.
                try
                    sink.Truncate before
                with WriteFailed truncateReason ->
                    log.Warning(
                        sprintf
                            "Could not remove short write from the append-only file. Redis may refuse to load the AOF the next time it starts. ftruncate: %s"
                            truncateReason
                    )

                if writeError.IsNone then log.Warning(sprintf "Error writing to the AOF file: %s" reason)
                writeError <- Some reason

                // The failed bytes are older than anything appended since: they go first.
                Monitor.Enter bufferLock

                try
                    taken.Write buffer.WrittenSpan
                    buffer.ResetWrittenCount()
                    let appendedMeanwhile = buffer
                    buffer <- taken
                    taken <- appendedMeanwhile
                finally
                    Monitor.Exit bufferLock

            // `taken` is empty now: it is the next spare.
            Monitor.Enter bufferLock

            try
                spare <- taken
            finally
                Monitor.Exit bufferLock

    let syncNow () =
        let target = written

        if synced < target then
            try
                sink.Sync()
                synced <- max synced target
            with WriteFailed reason ->
                if policy = SyncPolicy.Always then
                    fail (sprintf "Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s. Exiting..." reason)
                else
                    log.Warning(sprintf "Fail to fsync the AOF file: %s" reason)
                    writeError <- Some reason

    /// How far the file is as durable as the policy promises: synced under `always` (written while
    /// `no-appendfsync-on-rewrite` holds syncs back), written otherwise.
    let committed () =
        if policy = SyncPolicy.Always && not skipSync then synced else written

    /// Releases the batches a commit covered (all of them once the server is dying: it exits). Their
    /// continuations run inline (a hand-off to another thread measured slower), so the waiting list is
    /// only held to take them off it. Called from the loop's round, the syncer, the timer and Flush, so the
    /// taken ones are local.
    let release () =
        // Under `everysec` and `no` a batch does not wait while its write is postponed behind a running sync
        // or failed (then it is retried from the timer and writes get -MISCONF): its reply goes out
        // meanwhile, as in Redis. Otherwise only what is written (synced) goes: a batch that appended after
        // the write, from another thread, waits for the next one.
        let durable =
            if policy <> SyncPolicy.Always && (postponedSinceMs <> 0L || writeError.IsSome) then Int64.MaxValue
            else committed ()

        let mutable taken: List<DurableWaiter> = null

        lock waiters (fun () ->
            let mutable i = 0

            while i < waiters.Count do
                let struct (pos, waiter) = waiters[i]

                if pos <= durable || fatal || closed then
                    if isNull taken then taken <- List<DurableWaiter>()
                    taken.Add waiter
                    waiters.RemoveAt i
                else
                    i <- i + 1)

        if not (isNull taken) then
            for waiter in taken do
                waiter.Complete()

    /// Asks for a commit soon: the loop's next round, or without a loop the syncer.
    let askCommit () =
        match roundBell with
        | null -> wake.Set() |> ignore
        | ring -> if Interlocked.Exchange(&roundAsked, 1) = 0 then ring.Invoke()

    /// One group commit: everything buffered is written and synced, and the batches it covers go.
    let groupCommit () =
        Monitor.Enter writeLock

        try
            writeBuffered ()
            if writeError.IsNone && not skipSync then syncNow ()
        finally
            Monitor.Exit writeLock

        release ()

    // The background thread: the syncer under `always` (woken by every waiting batch), the once-a-second
    // flusher under `everysec`.
    let worker =
        let t =
            Thread(
                (fun () ->
                    while not closed do
                        let woken = wake.WaitOne 1000

                        if not closed then
                            match policy with
                            | SyncPolicy.Always when isNull roundBell ->
                                if appended > synced || waiters.Count > 0 then groupCommit ()
                            | SyncPolicy.Always ->
                                // The loop syncs; this only makes sure no batch waits for ever (a ring
                                // lost while the bell was being changed).
                                if not woken && waiters.Count > 0 then groupCommit ()
                            | SyncPolicy.EverySec when not skipSync && synced < written ->
                                syncRunning <- true

                                try
                                    syncNow ()
                                finally
                                    syncRunning <- false
                            | _ -> ()

                    release ()),
                IsBackground = true,
                Name = "aof-sync"
            )

        t.Start()
        t

    /// Serializes one atomic unit of events (a command's or a transaction's) into the buffer. Call under the
    /// executor's lock; returns the commit point.
    member _.Append(events: Event list) : int64 =
        match events with
        | [] -> appended
        | _ ->
            Monitor.Enter bufferLock

            try
                let before = buffer.WrittenCount

                if timestamps then
                    let now = nowMs () / 1000L

                    if now > lastTimestamp then
                        AofFormat.writeTimestamp buffer now
                        lastTimestamp <- now

                selectedDb <- AofFormat.writeUnit buffer selectedDb events
                appended <- appended + int64 (buffer.WrittenCount - before)
                appended
            finally
                Monitor.Exit bufferLock

    /// Writes everything up to `upTo` now (no sync): the `everysec`/`no` commit, and retries.
    member _.Commit(upTo: int64) : unit =
        if written < upTo then
            Monitor.Enter writeLock

            try
                if written < upTo then
                    if policy = SyncPolicy.EverySec && syncRunning then
                        // A sync is still running: Redis postpones the write rather than block on the disk,
                        // for up to two seconds.
                        let now = nowMs ()

                        if postponedSinceMs = 0L then
                            postponedSinceMs <- now
                        elif now - postponedSinceMs >= 2000L then
                            delayedFsyncs <- delayedFsyncs + 1L
                            log.Notice
                                "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis."
                            postponedSinceMs <- 0L
                            writeBuffered ()
                    else
                        postponedSinceMs <- 0L
                        writeBuffered ()
            finally
                Monitor.Exit writeLock

    /// Whether `upTo` needs no commit asked for: the log has failed for good, the policy has the write done
    /// here and now (no loop, not `always`), or a commit already covers it.
    member private this.SettledNow(upTo: int64) : bool =
        if fatal then
            true
        elif policy <> SyncPolicy.Always && isNull roundBell then
            this.Commit upTo
            true
        else
            committed () >= upTo

    /// Asks for everything up to `upTo` to be made durable, as WhenDurable does, for a caller that will not
    /// wait for it (the timer): no waiter is taken from the pool, since an unread one never goes back.
    member this.AskDurable(upTo: int64) : unit =
        if not (this.SettledNow upTo) then askCommit ()

    /// Completes when everything up to `upTo` is as durable as the policy promises (at once when it already
    /// is): with a host loop, at the end of the loop's round, once the round is written (and under `always`
    /// synced); without one, under `always` once the syncer's fdatasync covers it, otherwise after a direct
    /// write.
    member this.WhenDurable(upTo: int64) : ValueTask =
        if this.SettledNow upTo then
            ValueTask.CompletedTask
        else
            let waiter = DurableWaiter.Rent waiterPool
            let awaited = waiter.AsValueTask()
            // Registered before the ask, so the commit it brings releases it.
            lock waiters (fun () -> waiters.Add(struct (upTo, waiter)))
            askCommit ()
            awaited

    /// The timer's part: retries a failed or postponed write, wakes the syncer.
    member this.Cron() : unit =
        if policy = SyncPolicy.Always then
            if appended > synced then wake.Set() |> ignore
        else
            if appended > written then this.Commit appended
            // A batch that waits for a round that never came (a ring lost while the bell changed) goes now.
            if waiters.Count > 0 then release ()

    /// Writes what is buffered now, without a sync: before the log is retired for another file, whose
    /// Dispose then syncs it away from the executor.
    member _.WriteBuffered() : unit =
        Monitor.Enter writeLock

        try
            writeBuffered ()
        finally
            Monitor.Exit writeLock

    /// Writes and syncs everything: before a clean shutdown, a reload, a rewrite or switching the log off.
    member _.Flush() : unit =
        Monitor.Enter writeLock

        try
            writeBuffered ()

            if writeError.IsNone then
                try
                    sink.Sync()
                    synced <- written
                with WriteFailed reason ->
                    log.Warning(sprintf "Fail to fsync the AOF file: %s" reason)
        finally
            Monitor.Exit writeLock

        release ()

    /// A host loop's doorbell, or null: then the syncer thread syncs for every waiting batch and sends the
    /// replies it releases. Rung when a batch starts waiting, it must make the loop call RoundEnded once
    /// the loop has handled the events already in hand.
    member _.RoundBell
        with set (ring: Action) =
            roundBell <- ring
            Volatile.Write(&roundAsked, 0)
            // Whoever waits for a ring that is no longer coming goes with this sync.
            wake.Set() |> ignore
            if isNull ring then groupCommit ()

    /// The host's loop has run the commands that had arrived: everything appended is written now, in one
    /// write(2) for the whole round, as Redis writes its buffer once per loop (under `always` also synced),
    /// on the loop's thread, and the batches it covers are released (the loop then sends their replies).
    member this.RoundEnded() : unit =
        Volatile.Write(&roundAsked, 0)

        if policy = SyncPolicy.Always then
            groupCommit ()
        else
            this.Commit appended
            release ()

    /// The second of the last `#TS:` annotation written (aof-timestamp-enabled): a new file carries it on.
    member _.LastTimestamp
        with get () = lastTimestamp
        and set (seconds: int64) = lastTimestamp <- seconds

    /// The logical end of everything appended so far: a batch that read the state commits up to here, so
    /// no reply shows a write (anyone's) before that write is as durable as the policy promises.
    member _.Appended = appended

    member _.SkipSync
        with get () = skipSync
        and set (v: bool) =
            skipSync <- v
            wake.Set() |> ignore

    member _.Policy
        with get () = policy
        and set (p: SyncPolicy) =
            policy <- p
            wake.Set() |> ignore

    /// The reason of the last failed write while it is unresolved (then writes are refused with -MISCONF).
    member _.WriteError = writeError
    member _.DelayedFsyncs = delayedFsyncs
    member _.BufferLength = int64 buffer.WrittenCount
    member _.SyncRunning = syncRunning
    /// Bytes in the incr file.
    member _.FileLength = sink.Length
    member _.Path = sink.Path

    interface IDisposable with
        member this.Dispose() =
            if not closed then
                this.Flush()
                closed <- true
                wake.Set() |> ignore
                worker.Join 2000 |> ignore
                release ()
                sink.Dispose()
