module Aof.Engine.Tests.RewriteEngineTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Xunit
open Xunit.Abstractions
open Aof.Core
open Aof.Engine

let private start (dir: string) (hooks: EngineHooks) (extra: string list) =
    let args =
        [ "--dir"; dir; "--appendonly"; "yes"; "--appendfsync"; "always"; "--logfile"; Path.Combine(dir, "log.txt")
          "--enable-debug-command"; "yes"; "--auto-aof-rewrite-percentage"; "0" ]
        @ extra

    match Server.StartWith(List.toArray args, hooks) with
    | Ok s ->
        match s.LoadNow() with
        | Ok() -> s
        | Error e -> failwith e
    | Error(struct (msg, _)) -> failwith msg

let private session (s: Server) =
    match s.Connect("127.0.0.1:1", "127.0.0.1:6379") with
    | ValueSome c -> c
    | ValueNone -> failwith "refused"

let private call (s: Server) (c: Session) (args: string list) = s.Call(c, args |> List.map Bytes.ofString |> List.toArray)

let private info (s: Server) (c: Session) =
    match call s c [ "INFO"; "persistence" ] with
    | Reply.Bulk b -> Bytes.toString b
    | other -> failwithf "%A" other

/// Polls a condition with a bound instead of sleeping for luck.
let private eventually (what: string) (cond: unit -> bool) =
    let sw = Stopwatch.StartNew()

    while not (cond ()) do
        if sw.ElapsedMilliseconds > 20_000L then failwithf "timed out waiting for %s" what
        Thread.Sleep 10

let private rewriteDone (s: Server) (c: Session) = (info s c).Contains "aof_rewrite_in_progress:0"

let private manifestOf (dir: string) =
    File.ReadAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"))

[<Fact>]
let ``writers running through repeated rewrites lose and duplicate nothing`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let s = start dir EngineHooks.Default []
    let stop = ref false
    let expected = Collections.Concurrent.ConcurrentDictionary<string, string>()

    let writer (w: int) () =
        let c = session s
        let mutable i = 0

        while not stop.Value do
            let key = sprintf "w%d:%d" w (i % 50)
            let value = sprintf "%d" i

            match call s c [ "SET"; key; value ] with
            | r when r = Reply.ok -> expected[key] <- value
            | other -> failwithf "SET failed: %A" other

            match call s c [ "INCR"; sprintf "w%d:counter" w ] with
            | Reply.Integer n -> expected[sprintf "w%d:counter" w] <- string n
            | other -> failwithf "INCR failed: %A" other

            i <- i + 1

    let threads = [ for w in 1..3 -> Thread(writer w, IsBackground = true) ]
    threads |> List.iter (fun t -> t.Start())
    let c = session s

    for _ in 1..5 do
        eventually "writes between rewrites" (fun () -> expected.Count > 10)
        Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
        eventually "the rewrite to finish" (fun () -> rewriteDone s c)

    stop.Value <- true
    threads |> List.iter (fun t -> t.Join())
    Assert.Contains("aof_rewrites:5", info s c)
    Assert.Contains("aof_last_bgrewrite_status:ok", info s c)
    s.Stop()

    let again = start dir EngineHooks.Default []
    let db0 = Keyspace.toMap again.Keyspace |> Map.find 0
    Assert.Equal(expected.Count, db0.Count)

    for kv in expected do
        Assert.Equal(Plain.Str(Bytes.ofString kv.Value), fst db0[kv.Key])

    again.Stop()

[<Fact>]
let ``BGREWRITEAOF while a rewrite runs says already in progress`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let release = new ManualResetEventSlim(false)
    let hooks = { EngineHooks.Default with RewriteStep = fun step -> if step = "base-half-written" then release.Wait() }
    let s = start dir hooks []
    let c = session s
    call s c [ "SET"; "k"; "v" ] |> ignore
    Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
    Assert.Contains("aof_rewrite_in_progress:1", info s c)
    Assert.Equal(Reply.Error "ERR Background append only file rewriting already in progress", call s c [ "BGREWRITEAOF" ])
    release.Set()
    eventually "the rewrite to finish" (fun () -> rewriteDone s c)
    s.Stop()

/// Hooks that hold a rewrite at `step`: the first event is set when it gets there, and it goes on once the
/// second is.
let private freezeAt (step: string) =
    let reached = new ManualResetEventSlim(false)
    let release = new ManualResetEventSlim(false)

    let hooks =
        { EngineHooks.Default with
            RewriteStep =
                fun at ->
                    if at = step then
                        reached.Set()
                        release.Wait() }

    reached, release, hooks

[<Fact>]
let ``clients are served while a rewrite switches the manifest and deletes the old files`` () =
    // The manifest's fsyncs and the deletion of a large old base used to run under the executor's lock,
    // stalling every client for 10-30 ms per rewrite. Frozen right after the switch, the rewrite must not
    // hold up a write and its acknowledgement.
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let switched, release, hooks = freezeAt "manifest-switched"
    let s = start dir hooks []
    let c = session s
    call s c [ "SET"; "k"; "v" ] |> ignore
    Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
    Assert.True(switched.Wait(TimeSpan.FromSeconds 30.0), "the rewrite never reached the switch")
    let written = Threading.Tasks.Task.Run(fun () -> call s c [ "SET"; "during"; "switch" ])
    let answered = written.Wait(TimeSpan.FromSeconds 10.0)
    release.Set()
    Assert.True(answered, "a write waited for the rewrite's manifest switch")
    Assert.Equal(Reply.Simple "OK", written.Result)
    eventually "the rewrite to finish" (fun () -> rewriteDone s c)
    Assert.Contains("aof_rewrites:1", info s c)
    s.Stop()

/// Freezes a rewrite at `step` (as a crash there would leave the files), restarts on the same directory and
/// checks the dataset is complete and the stray files are dealt with.
let private crashAt (step: string) =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let frozen, release, hooks = freezeAt step
    let s = start dir hooks []
    let c = session s

    for i in 1..2000 do
        call s c [ "SET"; sprintf "k%d" i; String('x', 600) ] |> ignore

    call s c [ "SET"; "ttl"; "v"; "EX"; "1000" ] |> ignore
    let before = Digest.dataset s.Keyspace
    Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
    // Writes after the snapshot go to the new incr, already named in the manifest.
    call s c [ "SET"; "after"; "1" ] |> ignore
    let expected = Digest.dataset s.Keyspace
    Assert.NotEqual<string>(before, expected)

    // The old server stays frozen at `step`, like a dead process; the files are as that crash leaves them.
    frozen.Wait()

    let expectedMap = Keyspace.toMap s.Keyspace
    let restarted = start dir EngineHooks.Default []
    let digest = Digest.dataset restarted.Keyspace
    let got = Keyspace.toMap restarted.Keyspace

    for db in expectedMap do
        for kv in db.Value do
            match got |> Map.tryFind db.Key |> Option.bind (Map.tryFind kv.Key) with
            | Some v when v = kv.Value -> ()
            | other -> failwithf "db%d %s: expected %A, got %A" db.Key kv.Key kv.Value other
    let leftovers = Directory.GetFiles(Path.Combine(dir, "appendonlydir"), "temp-*")
    let manifest = manifestOf dir
    restarted.Stop()
    // The frozen rewrite finishes against files that are no longer its concern; it must be done before the
    // directory goes.
    release.Set()
    eventually "the frozen rewrite to end" (fun () -> rewriteDone s c)
    s.Stop()
    Assert.Equal(expected, digest)
    Assert.Empty(leftovers)
    Assert.DoesNotContain("type h", manifest)

[<Fact>]
let ``a crash with the new base half written leaves a complete dataset`` () = crashAt "base-half-written"

[<Fact>]
let ``a crash with the base written but the manifest not switched leaves a complete dataset`` () = crashAt "base-written"

[<Fact>]
let ``a crash after the manifest switched but before old files were deleted leaves a complete dataset`` () =
    crashAt "manifest-switched"

[<Fact>]
let ``a failed rewrite keeps the old files in force, cleans up and waits for the next BGREWRITEAOF`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let mutable failures = 1

    let hooks =
        { EngineHooks.Default with
            RewriteStep =
                fun at ->
                    if at = "base-half-written" && failures > 0 then
                        failures <- failures - 1
                        raise (IOException "No space left on device") }

    let s = start dir hooks []
    let c = session s
    call s c [ "SET"; "k"; "v" ] |> ignore
    let manifestBefore = manifestOf dir
    call s c [ "BGREWRITEAOF" ] |> ignore
    eventually "the failure to be reported" (fun () -> (info s c).Contains "aof_last_bgrewrite_status:err")
    // As in redis-server 7.0.15: the failed attempt counts, and nothing is scheduled in its place.
    Assert.Contains("aof_rewrite_scheduled:0", info s c)
    Assert.Contains("aof_rewrites:1", info s c)
    Assert.Contains("aof_rewrites_consecutive_failures:1", info s c)
    Assert.Empty(Directory.GetFiles(Path.Combine(dir, "appendonlydir"), "temp-*"))
    // The old base is still in force (only the next incr was added for the writes that followed).
    Assert.Contains(manifestBefore.Split('\n')[0], manifestOf dir)
    Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
    eventually "the second rewrite to succeed" (fun () -> (info s c).Contains "aof_last_bgrewrite_status:ok" && rewriteDone s c)
    Assert.Contains("aof_rewrites:2", info s c)
    Assert.Contains("aof_rewrites_consecutive_failures:0", info s c)
    s.Stop()
    let again = start dir EngineHooks.Default []
    Assert.Equal(Plain.Str "v"B, fst (Keyspace.toMap again.Keyspace |> Map.find 0 |> Map.find "k"))
    again.Stop()

/// A server on `dir` with 2,000 keys whose rewrite is held after writing its first chunk, a session on
/// it, and the event that lets the rewrite go on.
let private rewriteHeldAfterFirstChunk (dir: string) =
    let frozen, release, hooks = freezeAt "base-half-written"
    let s = start dir hooks []
    let c = session s

    for i in 1..2000 do
        call s c [ "SET"; sprintf "k%d" i; String('x', 100) ] |> ignore

    Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
    Assert.True(frozen.Wait(TimeSpan.FromSeconds 30.0), "the rewrite never wrote its first chunk")
    s, c, release

/// The digest of what a fresh server loads from `dir`.
let private digestAfterRestart (dir: string) =
    let again = start dir EngineHooks.Default []
    let digest = Digest.dataset again.Keyspace
    again.Stop()
    digest

[<Fact>]
let ``a rewrite abandoned by switching the log off and on leaves the new log alone`` () =
    // Redis kills its rewrite child when the log is switched off. Here the abandoned writer runs on: it
    // must neither write into nor rename over the base that switching the log on again put in force.
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let s, c, release = rewriteHeldAfterFirstChunk dir
    call s c [ "SET"; "k1"; "changed while the log was on" ] |> ignore
    Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendonly"; "no" ])
    call s c [ "SET"; "k2"; "changed while the log was off" ] |> ignore
    Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendonly"; "yes" ])
    call s c [ "SET"; "k3"; "changed after the log came back" ] |> ignore
    release.Set()
    eventually "the abandoned rewrite to end" (fun () -> rewriteDone s c)
    let expected = Digest.dataset s.Keyspace
    let manifest = manifestOf dir
    s.Stop()
    Assert.Empty(Directory.GetFiles(Path.Combine(dir, "appendonlydir"), "temp-*"))
    let got = digestAfterRestart dir
    Assert.Equal(manifest, manifestOf dir)
    Assert.Equal(expected, got)

[<Fact>]
let ``a server stopped during a rewrite keeps its manifest and drops the rewrite's temporary`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let s, c, release = rewriteHeldAfterFirstChunk dir
    call s c [ "SET"; "last"; "write" ] |> ignore
    let expected = Digest.dataset s.Keyspace
    s.Stop()
    let manifest = manifestOf dir
    release.Set()
    let temporaries () = Directory.GetFiles(Path.Combine(dir, "appendonlydir"), "temp-*")
    eventually "the abandoned rewrite to remove its temporary" (fun () -> Array.isEmpty (temporaries ()))
    Assert.Equal(manifest, manifestOf dir)
    Assert.False(File.Exists(Path.Combine(dir, "appendonlydir", AofSupport.baseName 2)), "the abandoned base was put in place")
    let got = digestAfterRestart dir
    Assert.Equal(expected, got)

[<Fact>]
let ``DEBUG LOADAOF while a rewrite runs loses nothing`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let s, c, release = rewriteHeldAfterFirstChunk dir
    call s c [ "SET"; "before"; "reload" ] |> ignore
    Assert.Equal(Reply.ok, call s c [ "DEBUG"; "LOADAOF" ])
    call s c [ "SET"; "after"; "reload" ] |> ignore
    release.Set()
    eventually "the rewrite to end" (fun () -> rewriteDone s c)
    call s c [ "SET"; "after"; "the rewrite" ] |> ignore
    let expected = Digest.dataset s.Keyspace
    s.Stop()
    Assert.Equal(expected, digestAfterRestart dir)

[<Fact>]
let ``the AOF is rewritten automatically once it grows past the percentage and the minimum size`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let s = start dir EngineHooks.Default [ "--auto-aof-rewrite-percentage"; "100"; "--auto-aof-rewrite-min-size"; "1mb"; "--hz"; "50" ]
    let c = session s

    for i in 1..3000 do
        call s c [ "SET"; "same"; String('y', 500 + i % 7) ] |> ignore

    eventually "an automatic rewrite" (fun () -> (info s c).Contains "aof_rewrites:1" && rewriteDone s c)
    Assert.Contains("Starting automatic rewriting of AOF on", File.ReadAllText(Path.Combine(dir, "log.txt")))
    s.Stop()

[<Fact>]
let ``failing automatic rewrites are held back 1 minute after the third failure, then 2, 4, up to an hour`` () =
    let minutesAfter failures =
        match AofRewrite.limit failures 0L 1_000L with
        | RewriteLimit.Starts(until, minutes) ->
            Assert.Equal(1_000L + minutes * 60_000L, until)
            minutes
        | other -> failwithf "%d failures: %A" failures other

    Assert.Equal(RewriteLimit.Free, AofRewrite.limit 2L 0L 1_000L)
    // Measured on redis-server 7.0.15: "will retry in 1 minutes" after the third failure, "2 minutes" after the fourth.
    Assert.Equal<int64 list>([ 1L; 2L; 4L; 8L; 16L; 32L; 60L; 60L ], [ for f in 3L..10L -> minutesAfter f ])
    Assert.Equal(RewriteLimit.Waiting, AofRewrite.limit 3L 61_000L 60_999L)
    Assert.Equal(RewriteLimit.Free, AofRewrite.limit 3L 61_000L 61_000L)

[<Fact>]
let ``automatic rewrites that keep failing stop after the third and BGREWRITEAOF still runs`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path

    let hooks =
        { EngineHooks.Default with
            RewriteStep = fun at -> if at = "base-half-written" then raise (IOException "No space left on device") }

    let s = start dir hooks [ "--auto-aof-rewrite-percentage"; "100"; "--auto-aof-rewrite-min-size"; "1mb"; "--hz"; "50" ]
    let c = session s

    for i in 1..3000 do
        call s c [ "SET"; "same"; String('y', 500 + i % 7) ] |> ignore

    let log () = File.ReadAllText(Path.Combine(dir, "log.txt"))
    let limited = "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in 1 minutes"
    eventually "the limit" (fun () -> (log ()).Contains limited)
    Assert.Contains("aof_rewrites:3", info s c)
    Assert.Contains("aof_rewrites_consecutive_failures:3", info s c)
    // Another 25 ticks of the timer (hz 50) at least: without the limit the growth would start one at each.
    let sw = Stopwatch.StartNew()

    while sw.ElapsedMilliseconds < 500L do
        Assert.Contains("aof_rewrites:3", info s c)
        Thread.Sleep 10

    Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
    eventually "the manual rewrite to fail too" (fun () -> (info s c).Contains "aof_rewrites_consecutive_failures:4" && rewriteDone s c)
    Assert.Contains("aof_rewrites:4", info s c)
    s.Stop()

[<Fact>]
let ``turning the log on makes its base the size automatic rewrites grow from`` () =
    use scratch = new AofSupport.Scratch "rw"
    let dir = scratch.Path
    let s = start dir EngineHooks.Default [ "--appendonly"; "no"; "--auto-aof-rewrite-percentage"; "100"; "--auto-aof-rewrite-min-size"; "1mb"; "--hz"; "50" ]
    let c = session s

    for i in 1..3000 do
        call s c [ "SET"; sprintf "k%d" i; String('y', 500) ] |> ignore

    Assert.Equal(Reply.Simple "OK", call s c [ "CONFIG"; "SET"; "appendonly"; "yes" ])
    Assert.Contains("aof_rewrites:1", info s c)
    // 25 ticks of the timer at least: measured from nothing, the 1.5 MB base would be endless growth.
    let sw = Stopwatch.StartNew()

    while sw.ElapsedMilliseconds < 500L do
        Assert.Contains("aof_rewrites:1", info s c)
        Thread.Sleep 10

    // Doubling it is growth of 100%: the timer is alive and measures from the base.
    for i in 1..3000 do
        call s c [ "SET"; sprintf "k%d" i; String('z', 520) ] |> ignore

    eventually "an automatic rewrite" (fun () -> (info s c).Contains "aof_rewrites:2" && rewriteDone s c)
    s.Stop()

type RealRedis(output: ITestOutputHelper) =
    [<Fact>]
    member _.``a rewritten directory loads in the real redis-server with the same digest``() =
        let ci = Environment.GetEnvironmentVariable "CI" = "true"
        let onPath (tool: string) =
            (Environment.GetEnvironmentVariable "PATH").Split(':') |> Array.exists (fun p -> File.Exists(Path.Combine(p, tool)))

        if not (onPath "redis-server" && onPath "redis-cli") then
            if ci then Assert.Fail "redis-server and redis-cli are required under CI=true"
            output.WriteLine "skipped: redis-server or redis-cli is not installed"
        else
            use scratch = new AofSupport.Scratch "rw"
            let dir = scratch.Path
            let s = start dir EngineHooks.Default []
            let c = session s

            for db in [ 0; 5 ] do
                call s c [ "SELECT"; string db ] |> ignore

                for i in 1..300 do
                    call s c [ "SET"; sprintf "k%d" i; sprintf "v%d" i ] |> ignore

                call s c [ "INCRBY"; "n"; "42" ] |> ignore
                call s c [ "SET"; "t"; "v"; "PX"; "9000000" ] |> ignore

            call s c [ "BGREWRITEAOF" ] |> ignore
            eventually "the rewrite" (fun () -> rewriteDone s c)
            let ours = Digest.dataset s.Keyspace
            s.Stop()

            let port =
                let l = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0)
                l.Start()
                let p = (l.LocalEndpoint :?> Net.IPEndPoint).Port
                l.Stop()
                p

            let run (exe: string) (args: string) =
                let p = Process.Start(ProcessStartInfo(exe, args, RedirectStandardOutput = true, UseShellExecute = false))
                let text = p.StandardOutput.ReadToEnd()
                p.WaitForExit()
                text.Trim()

            let redis = Process.Start(ProcessStartInfo("redis-server", sprintf "--port %d --dir %s --appendonly yes --aof-use-rdb-preamble no --save \"\" --enable-debug-command yes" port dir, RedirectStandardOutput = true, UseShellExecute = false))

            try
                eventually "redis-server to load" (fun () -> run "redis-cli" (sprintf "-p %d ping" port) = "PONG")
                Assert.Equal(ours, run "redis-cli" (sprintf "-p %d debug digest" port))
            finally
                run "redis-cli" (sprintf "-p %d shutdown nosave" port) |> ignore
                redis.WaitForExit 10000 |> ignore
