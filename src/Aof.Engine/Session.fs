namespace Aof.Engine

open System.Collections.Generic
open System.Threading
open Aof.Core

/// A key a client WATCHes: the entry it saw (none when absent) and whether it was already expired.
[<Struct>]
type Watched =
    { WDb: int
      WKey: byte[]
      WEntry: Entry voption
      WWasExpired: bool }

/// A client blocked by BLPOP, BZPOPMIN and the like: what it waits for, what it will be answered, and the
/// commands that arrived after it in the same read (they run once it is answered, as in Redis).
[<Sealed; AllowNullLiteral>]
type Blocked(db: int, cmd: Command, keys: byte[][], pending: List<byte[][]>) =
    let woken = Tasks.TaskCompletionSource(Tasks.TaskCreationOptions.RunContinuationsAsynchronously)
    member _.Db = db
    member _.Cmd = cmd
    member _.Keys = keys
    member _.Pending = pending
    /// The answer once served (the null array until then: what a timeout answers).
    member val Reply = Reply.NilArray with get, set
    member val Timer: Timer = null with get, set
    /// Still registered on its keys (neither served, timed out nor gone).
    member val Waiting = true with get, set
    /// Completes when the client is served or timed out: the host then resumes it.
    member _.Woken: Tasks.Task = woken.Task
    member _.Wake() = woken.TrySetResult() |> ignore

/// One client connection's state inside the engine. Touched only under the executor's lock, except the
/// flags the host reads after a batch.
[<Sealed; AllowNullLiteral>]
type Session(id: int64, addr: string, laddr: string, createdMs: int64) =
    let killed = new CancellationTokenSource()
    member _.Id = id
    member _.Addr = addr
    member _.LAddr = laddr
    member _.CreatedMs = createdMs
    member val Db = 0 with get, set
    member val Name: byte[] = [||] with get, set
    member val Authenticated = false with get, set
    member val InMulti = false with get, set
    /// Parsed commands waiting for EXEC; an Error is a runtime error EXEC will report in its place.
    member val Queue = List<Result<Request, Reply>>() with get
    /// An unknown command or wrong arity inside MULTI: EXEC will refuse the whole transaction.
    member val MultiFailed = false with get, set
    /// A write command is queued: EXEC is a write then (refused while the AOF cannot be written).
    member val QueuedWrite = false with get, set
    member val Watched = List<Watched>() with get
    /// Set while the client waits in a blocking command (null otherwise).
    member val Blocked: Blocked = null with get, set
    member val LastInteractionMs = createdMs with get, set
    member val LastCommand = "NULL" with get, set
    /// Set after QUIT, a protocol error, CLIENT KILL or shutdown: the host flushes what was written and closes.
    member val IsClosing = false with get, set
    /// Cancelled when the engine wants this connection gone now (CLIENT KILL, timeout, shutdown).
    member _.Killed = killed.Token

    member this.Kill() =
        this.IsClosing <- true

        try
            killed.Cancel()
        with _ ->
            ()

    member this.ResetMulti() =
        this.InMulti <- false
        this.MultiFailed <- false
        this.QueuedWrite <- false
        this.Queue.Clear()
        this.Watched.Clear()

/// Counters INFO reports, as Redis names them.
[<Sealed>]
type Stats() =
    member val TotalConnections = 0L with get, set
    member val RejectedConnections = 0L with get, set
    member val TotalCommands = 0L with get, set
    member val ExpiredKeys = 0L with get, set
    member val KeyspaceHits = 0L with get, set
    member val KeyspaceMisses = 0L with get, set
    member val ErrorReplies = 0L with get, set
    /// Writes since the last save (`rdb_changes_since_last_save`).
    member val Dirty = 0L with get, set

    member this.Reset() =
        this.TotalConnections <- 0L
        this.RejectedConnections <- 0L
        this.TotalCommands <- 0L
        this.ExpiredKeys <- 0L
        this.KeyspaceHits <- 0L
        this.KeyspaceMisses <- 0L
        this.ErrorReplies <- 0L
