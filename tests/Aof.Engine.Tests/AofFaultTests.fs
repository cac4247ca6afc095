/// Faults in the way of the AOF's writes (ENOSPC, EIO, short writes), injected through EngineHooks.OpenSink:
/// under `always` the server exits; otherwise writes are refused with -MISCONF while reads go on, the file
/// never keeps half a command, and once the disk is back nothing acknowledged is lost or doubled.
module Aof.Engine.Tests.AofFaultTests

open System
open System.Collections.Concurrent
open System.IO
open Xunit
open Aof.Core
open Aof.Engine
open Aof.Engine.Tests.AofSupport

/// What one write to an AOF file does.
type Fault =
    | Pass
    /// Nothing reaches the file; the write fails with this reason.
    | Fail of reason: string
    /// The first `keep` bytes reach the file (always fewer than asked), then the write fails.
    | Short of keep: int * reason: string

/// The test's control over every AOF file the server opens: a queue of faults for the next writes, then
/// `Otherwise` for all the rest; the exit codes the server asked for instead of exiting.
type Faults() =
    let gate = obj ()
    let queue = ConcurrentQueue<Fault>()
    let mutable otherwise = Pass
    let exits = ConcurrentQueue<int>()
    let mutable shortWrites = 0

    member _.Otherwise
        with get () = lock gate (fun () -> otherwise)
        and set f = lock gate (fun () -> otherwise <- f)

    /// The next write (of any file) does `f`.
    member _.Next(f: Fault) = queue.Enqueue f

    member this.Take() =
        match queue.TryDequeue() with
        | true, f -> f
        | _ -> this.Otherwise

    member _.Exits = List.ofSeq exits
    /// Short writes done so far (some bytes reached the file before the failure).
    member _.ShortWrites = shortWrites
    member _.CountShortWrite() = Threading.Interlocked.Increment &shortWrites |> ignore

    member this.Hooks: EngineHooks =
        { OpenSink = fun path -> new FaultySink(FileSink.openAppend path, this) :> IFileSink
          Exit = fun code -> exits.Enqueue code
          RewriteStep = ignore }

and FaultySink(inner: IFileSink, faults: Faults) =
    interface IFileSink with
        member _.Path = inner.Path
        member _.Length = inner.Length

        member _.Write(data: ReadOnlySpan<byte>) =
            match faults.Take() with
            | Pass -> inner.Write data
            | Fail reason -> raise (WriteFailed reason)
            | Short(keep, reason) ->
                inner.Write(data.Slice(0, max 0 (min keep (data.Length - 1))))
                faults.CountShortWrite()
                raise (WriteFailed reason)

        member _.Sync() = inner.Sync()
        member _.Truncate(length: int64) = inner.Truncate length
        member _.Dispose() = inner.Dispose()

let private enospc = "No space left on device"
let private eio = "Input/output error"

let private isError (r: Reply) =
    match r with
    | Reply.Error _ -> true
    | _ -> false

/// A server over a faulty disk, a client, and the commands it acknowledged.
type private Rig(policy: string) =
    let dir = tempDir "fault"
    let logFile = Path.Combine(dir, "server.log")
    let faults = Faults()

    let server =
        openWith faults.Hooks dir logFile [ "--appendfsync"; policy; "--enable-debug-command"; "yes" ]

    let client = connect server
    // INFO goes through a connection of its own, so it works while `client` is inside MULTI.
    let observer = connect server
    let acknowledged = ResizeArray<string list>()

    member _.Dir = dir
    member _.LogFile = logFile
    member _.Faults = faults
    member _.Server = server
    member _.Client = client
    member _.Acknowledged = List.ofSeq acknowledged

    /// Runs a write on a client's connection and remembers it when it was acknowledged.
    member _.WriteOn(session: Session, cmd: string list) : Reply =
        let r = call server session cmd
        if not (isError r) then acknowledged.Add cmd
        r

    member this.Write(cmd: string list) : Reply = this.WriteOn(client, cmd)

    /// MULTI ... EXEC; the commands count as acknowledged when EXEC ran them.
    member _.Transaction(cmds: string list list) : Reply =
        call server client [ "MULTI" ] |> ignore

        for c in cmds do
            call server client c |> ignore

        let r = call server client [ "EXEC" ]

        match r with
        | Reply.Array _ -> acknowledged.AddRange cmds
        | _ -> ()

        r

    member _.Call(cmd: string list) = call server client cmd
    member _.Status = infoField server observer "persistence" "aof_last_write_status"

    /// Stops the server, starts a plain one on the same directory and checks it holds exactly the
    /// acknowledged writes.
    member this.RestartAndCheck() =
        server.Stop()
        let expected, expectedDigest = reference this.Acknowledged
        let again = openServer dir [ "--enable-debug-command"; "yes" ]

        try
            let state = snapshot again

            if state <> expected then
                failwithf "after a restart:\n%A\nexpected (the acknowledged writes):\n%A" state expected

            Assert.Equal(expectedDigest, digest again (connect again))
        finally
            again.Stop()

    interface IDisposable with
        member _.Dispose() =
            server.Stop()
            deleteDir dir

[<Theory>]
[<InlineData("No space left on device", false)>]
[<InlineData("Input/output error", false)>]
[<InlineData("No space left on device", true)>]
let ``under always a failed write is fatal`` (reason: string, short: bool) =
    use rig = new Rig("always")
    Assert.Equal(Reply.ok, rig.Write [ "SET"; "a"; "1" ])
    rig.Faults.Next(if short then Short(9, reason) else Fail reason)
    rig.Call [ "SET"; "b"; "2" ] |> ignore
    Assert.Equal<int list>([ 1 ], rig.Faults.Exits)
    let log = readLog rig.LogFile
    Assert.Contains("Error writing to the AOF file: " + reason, log)
    Assert.Contains("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...", log)

/// Each policy that survives a failed write, with each kind of fault.
let faultCases: obj[] seq =
    [ for policy in [ "everysec"; "no" ] do
          for fault in [ "enospc"; "eio"; "short" ] do
              [| box policy; box fault |] ]

[<Theory>]
[<MemberData(nameof faultCases)>]
let ``a failed write refuses writes with MISCONF, keeps the file whole, and nothing acknowledged is lost`` (policy: string, fault: string) =
    use rig = new Rig(policy)
    let incr = incrPath rig.Dir
    Assert.Equal(Reply.ok, rig.Write [ "SET"; "a"; "1" ])
    Assert.Equal(Reply.Integer 1L, rig.Write [ "INCR"; "n" ])
    Assert.Equal(Reply.Integer 5L, rig.Write [ "APPEND"; "log"; "one\r\n" ])
    let whole = readShared incr

    let reason = if fault = "eio" then eio else enospc

    match fault with
    | "short" -> rig.Faults.Next(Short(20, reason))
    | _ -> ()

    rig.Faults.Otherwise <- Fail reason

    // The write that meets the fault was executed and is acknowledged: its events stay buffered for a retry.
    Assert.Equal(Reply.Array [| Reply.Integer 2L; Reply.Integer 10L |], rig.Transaction [ [ "INCR"; "n" ]; [ "APPEND"; "log"; "two\r\n" ] ])
    eventually "aof_last_write_status:err" 5000 (fun () -> rig.Status = "err")

    Assert.Equal(misconf reason, rig.Write [ "SET"; "b"; "2" ])
    Assert.Equal(misconf reason, rig.Write [ "INCR"; "n" ])
    Assert.Equal(misconf reason, rig.Call [ "PING" ])
    // Reads still work, and see the acknowledged state.
    Assert.Equal(bulk "2", rig.Call [ "GET"; "n" ])
    Assert.Equal(bulk "one\r\ntwo\r\n", rig.Call [ "GET"; "log" ])
    Assert.Equal(Reply.Nil, rig.Call [ "GET"; "b" ])

    // A write inside MULTI is refused too, and the transaction with it.
    Assert.Equal(Reply.ok, rig.Call [ "MULTI" ])
    Assert.Equal(misconf reason, rig.Call [ "SET"; "b"; "3" ])
    Assert.Equal(Reply.Error "EXECABORT Transaction discarded because of previous errors.", rig.Call [ "EXEC" ])
    Assert.Equal(Reply.Nil, rig.Call [ "GET"; "b" ])

    Assert.Equal((if fault = "short" then 1 else 0), rig.Faults.ShortWrites)
    // The file holds whole commands only: exactly what was written before the fault.
    let bytes = readShared incr
    let commands, tail = parseAof bytes
    Assert.Equal(Clean, tail)
    Assert.Equal(int64 bytes.Length, List.last (unitEnds commands))
    Assert.Equal<byte[]>(whole, bytes)

    rig.Faults.Otherwise <- Pass
    eventually "the timer's retry to succeed" 5000 (fun () -> rig.Status = "ok")
    Assert.Contains("AOF write error looks solved, Redis can write again.", readLog rig.LogFile)
    Assert.Equal(Reply.ok, rig.Write [ "SET"; "b"; "4" ])
    Assert.Equal(Reply.Integer 3L, rig.Write [ "INCR"; "n" ])
    Assert.Equal(Reply.pong, rig.Call [ "PING" ])
    Assert.Empty(rig.Faults.Exits)
    rig.RestartAndCheck()

[<Fact>]
let ``EXEC of writes queued before the fault is aborted with the MISCONF reason`` () =
    use rig = new Rig("everysec")
    let other = connect rig.Server
    Assert.Equal(Reply.ok, rig.Write [ "SET"; "a"; "1" ])
    Assert.Equal(Reply.ok, rig.Call [ "MULTI" ])
    Assert.Equal(Reply.queued, rig.Call [ "SET"; "a"; "queued" ])
    Assert.Equal(Reply.queued, rig.Call [ "GET"; "a" ])

    rig.Faults.Otherwise <- Fail enospc
    Assert.Equal(Reply.ok, rig.WriteOn(other, [ "SET"; "c"; "1" ]))
    eventually "aof_last_write_status:err" 5000 (fun () -> rig.Status = "err")

    Assert.Equal(
        Reply.Error("EXECABORT Transaction discarded because of: MISCONF Errors writing to the AOF file: " + enospc),
        rig.Call [ "EXEC" ]
    )

    Assert.Equal(bulk "1", rig.Call [ "GET"; "a" ])
    // A transaction of reads only still runs.
    Assert.Equal(Reply.ok, rig.Call [ "MULTI" ])
    Assert.Equal(Reply.queued, rig.Call [ "GET"; "a" ])
    Assert.Equal(Reply.Array [| bulk "1" |], rig.Call [ "EXEC" ])

    rig.Faults.Otherwise <- Pass
    eventually "the timer's retry to succeed" 5000 (fun () -> rig.Status = "ok")
    rig.RestartAndCheck()
