/// The AOF while the server runs: switching it on and off and changing its fsync policy with CONFIG SET,
/// DEBUG LOADAOF and DEBUG DIGEST, timestamp annotations, and the upgrade of a legacy appendonly.aof.
module Aof.Engine.Tests.AofRuntimeTests

open System
open System.IO
open Xunit
open Aof.Core
open Aof.Engine
open Aof.Engine.Tests.AofSupport
open Aof.Engine.Tests.AofFaultTests

let private debug = [ "--enable-debug-command"; "yes" ]

let private assertSame (what: string) expected actual =
    if expected <> actual then failwithf "%s:\n%A\nexpected:\n%A" what actual expected

/// The names in the AOF directory, sorted.
let private filesIn (dir: string) =
    Directory.GetFiles(aofDir dir) |> Array.map Path.GetFileName |> Array.sort |> List.ofArray

let private withDir (tag: string) (body: string -> unit) =
    let dir = tempDir tag

    try
        body dir
    finally
        deleteDir dir

/// Writes that exercise every kind of logged fact, over several databases and with TTLs.
let private populate (s: Server) (c: Session) =
    for cmd in
        [ [ "SET"; "a"; "1" ]
          [ "SET"; "b"; "two\r\nlines"; "EX"; "1000" ]
          [ "INCR"; "n" ]
          [ "INCRBY"; "n"; "41" ]
          [ "APPEND"; "a"; "+more" ]
          [ "SELECT"; "3" ]
          [ "MSET"; "x"; "1"; "y"; "2" ]
          [ "PEXPIRE"; "y"; "5000000" ]
          [ "SETRANGE"; "z"; "2"; "zz" ]
          [ "SELECT"; "0" ] ] do
        match call s c cmd with
        | Reply.Error e -> failwithf "%A: %s" cmd e
        | _ -> ()

[<Fact>]
let ``CONFIG SET appendonly yes writes the dataset as the next base, drops the old files and survives a restart`` () =
    withDir "on" (fun dir ->
        let first = openServer dir []
        call first (connect first) [ "SET"; "old"; "gone" ] |> ignore
        first.Stop()
        Assert.Equal<string list>([ baseName 1; incrName 1; "appendonly.aof.manifest" ], filesIn dir)

        // With the log off nothing is loaded: the dataset starts empty.
        let s = openServer dir [ "--appendonly"; "no" ]
        let c = connect s
        Assert.Equal(Reply.Nil, call s c [ "GET"; "old" ])
        populate s c
        Assert.Equal("0", infoField s c "persistence" "aof_enabled")
        Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendonly"; "yes" ])
        Assert.Equal("1", infoField s c "persistence" "aof_enabled")

        let m = manifest dir
        Assert.Equal(Some(baseName 2, 2L), m.Base |> Option.map (fun b -> b.Name, b.Seq))
        Assert.Equal<(string * int64) list>([ incrName 2, 2L ], m.Incrs |> List.map (fun f -> f.Name, f.Seq))
        Assert.Empty(m.History)
        Assert.Equal<string list>([ baseName 2; incrName 2; "appendonly.aof.manifest" ], filesIn dir)

        // The base holds the dataset as whole commands; the incr takes what follows.
        let commands, tail = parseAof (File.ReadAllBytes(Path.Combine(aofDir dir, baseName 2)))
        Assert.Equal(Clean, tail)
        Assert.Contains([ "SET"; "a"; "1+more" ], commands |> List.map (fun c -> c.Args))
        Assert.Equal(0L, FileInfo(Path.Combine(aofDir dir, incrName 2)).Length)
        Assert.Equal(Reply.ok, call s c [ "SET"; "later"; "1" ])
        eventually "the write in the new incr" 5000 (fun () ->
            parseAof (readShared (incrPath dir)) |> fst |> List.exists (fun c -> c.Args = [ "SET"; "later"; "1" ]))

        let before = snapshot s
        s.Stop()
        let again = openServer dir []

        try
            assertSame "after a restart" before (snapshot again)
        finally
            again.Stop())

[<Fact>]
let ``CONFIG SET appendonly no stops logging`` () =
    withDir "off" (fun dir ->
        let s = openServer dir []
        let c = connect s
        Assert.Equal(Reply.ok, call s c [ "SET"; "kept"; "1" ])
        let incr = incrPath dir
        Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendonly"; "no" ])
        Assert.Equal("0", infoField s c "persistence" "aof_enabled")
        let frozen = File.ReadAllBytes incr
        Assert.Equal(Reply.ok, call s c [ "SET"; "unlogged"; "2" ])
        Assert.Equal(Reply.Integer 1L, call s c [ "DEL"; "kept" ])
        s.Stop()

        Assert.Equal<byte[]>(frozen, File.ReadAllBytes incr)
        let again = openServer dir []

        try
            let c = connect again
            Assert.Equal(bulk "1", call again c [ "GET"; "kept" ])
            Assert.Equal(Reply.Nil, call again c [ "GET"; "unlogged" ])
        finally
            again.Stop())

[<Fact>]
let ``CONFIG SET appendfsync takes effect at once`` () =
    withDir "fsync" (fun dir ->
        let faults = Faults()
        let s = openWith faults.Hooks dir (Path.Combine(dir, "server.log")) [ "--appendfsync"; "everysec" ]

        try
            let c = connect s
            Assert.Equal(Reply.Array [| bulk "appendfsync"; bulk "everysec" |], call s c [ "CONFIG"; "GET"; "appendfsync" ])
            Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendfsync"; "always" ])
            Assert.Equal(Reply.Array [| bulk "appendfsync"; bulk "always" |], call s c [ "CONFIG"; "GET"; "appendfsync" ])

            // Under `always` now: a failed write is fatal.
            faults.Next(Fail "No space left on device")
            call s c [ "SET"; "a"; "1" ] |> ignore
            Assert.Equal<int list>([ 1 ], faults.Exits)
            eventually "the retry after the recorded exit" 5000 (fun () -> infoField s c "persistence" "aof_last_write_status" = "ok")

            // And under `no` it is not: writes are refused until the disk is back.
            Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendfsync"; "no" ])
            Assert.Equal(Reply.Array [| bulk "appendfsync"; bulk "no" |], call s c [ "CONFIG"; "GET"; "appendfsync" ])
            faults.Otherwise <- Fail "Input/output error"
            call s c [ "SET"; "b"; "2" ] |> ignore
            eventually "aof_last_write_status:err" 5000 (fun () -> infoField s c "persistence" "aof_last_write_status" = "err")
            Assert.Equal(misconf "Input/output error", call s c [ "SET"; "c"; "3" ])
            Assert.Equal<int list>([ 1 ], faults.Exits)
            faults.Otherwise <- Pass
            eventually "aof_last_write_status:ok" 5000 (fun () -> infoField s c "persistence" "aof_last_write_status" = "ok")
        finally
            s.Stop())

[<Fact>]
let ``DEBUG LOADAOF reloads from disk and resets the changes counter`` () =
    withDir "loadaof" (fun dir ->
        let s = openServer dir debug
        let c = connect s
        populate s c
        Assert.NotEqual<string>("0", infoField s c "persistence" "rdb_changes_since_last_save")
        let before = snapshot s
        let digestBefore = digest s c
        Assert.Equal(Reply.ok, call s c [ "DEBUG"; "LOADAOF" ])
        Assert.Equal("0", infoField s c "persistence" "rdb_changes_since_last_save")
        assertSame "after DEBUG LOADAOF" before (snapshot s)
        Assert.Equal(digestBefore, digest s c)
        Assert.Contains("Append Only File loaded by DEBUG LOADAOF", readLog (Path.Combine(dir, "server.log")))

        // The log goes on after a reload.
        Assert.Equal(Reply.ok, call s c [ "SET"; "after"; "reload" ])
        let expected = snapshot s
        s.Stop()
        let again = openServer dir []

        try
            assertSame "after a restart" expected (snapshot again)
        finally
            again.Stop())

[<Fact>]
let ``DEBUG LOADAOF works with appendonly no: the files on disk replace the dataset`` () =
    withDir "loadaof-off" (fun dir ->
        let first = openServer dir []
        let c = connect first
        populate first c
        let onDisk = snapshot first
        first.Stop()

        let s = openServer dir ([ "--appendonly"; "no" ] @ debug)

        try
            let c = connect s
            Assert.Equal(Reply.Nil, call s c [ "GET"; "a" ])
            Assert.Equal(Reply.ok, call s c [ "SET"; "memory"; "only" ])
            Assert.Equal(Reply.ok, call s c [ "DEBUG"; "LOADAOF" ])
            assertSame "after DEBUG LOADAOF" onDisk (snapshot s)
            Assert.Equal(Reply.Nil, call s c [ "GET"; "memory" ])
            Assert.Equal("0", infoField s c "persistence" "rdb_changes_since_last_save")
            Assert.Equal("0", infoField s c "persistence" "aof_enabled")
        finally
            s.Stop())

[<Fact>]
let ``DEBUG DIGEST is the digest of the dataset, before and after a restart`` () =
    withDir "digest" (fun dir ->
        let s = openServer dir debug
        let c = connect s
        populate s c
        let d = digest s c
        Assert.Equal(Digest.dataset s.Keyspace, d)
        Assert.NotEqual<string>(String('0', 40), d)
        s.Stop()
        let again = openServer dir debug

        try
            Assert.Equal(d, digest again (connect again))
            Assert.Equal(Digest.dataset again.Keyspace, d)
        finally
            again.Stop())

[<Fact>]
let ``aof-timestamp-enabled writes TS annotations that load fine`` () =
    withDir "ts" (fun dir ->
        let s = openServer dir [ "--aof-timestamp-enabled"; "yes" ]
        let c = connect s
        let startedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds()
        populate s c
        let expected = snapshot s
        s.Stop()
        let endedAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds()

        let text = Bytes.toString (File.ReadAllBytes(incrPath dir))
        let stamps = text.Split("\r\n") |> Array.filter (fun l -> l.StartsWith "#TS:")
        Assert.NotEmpty(stamps)
        Assert.StartsWith("#TS:", text)

        for stamp in stamps do
            let t = Int64.Parse(stamp.Substring 4)
            Assert.InRange(t, startedAt, endedAt)

        for extra in [ []; [ "--aof-timestamp-enabled"; "yes" ] ] do
            let again = openServer dir extra

            try
                assertSame "after a restart" expected (snapshot again)
            finally
                again.Stop())

[<Fact>]
let ``with aof-timestamp-enabled a rewritten base starts with its time and the annotations keep one clock`` () =
    withDir "ts-rewrite" (fun dir ->
        let s = openServer dir [ "--aof-timestamp-enabled"; "yes"; "--enable-debug-command"; "yes" ]
        let c = connect s
        populate s c
        let before = DateTimeOffset.UtcNow.ToUnixTimeSeconds()
        let stampsOf (path: string) =
            (Bytes.toString (File.ReadAllBytes path)).Split("\r\n") |> Array.filter (fun l -> l.StartsWith "#TS:") |> Array.map (fun l -> Int64.Parse(l.Substring 4))

        let lastBefore = Array.last (stampsOf (incrPath dir))
        Assert.Equal(Reply.Simple "Background append only file rewriting started", call s c [ "BGREWRITEAOF" ])
        eventually "the rewrite to finish" 20000 (fun () -> infoField s c "persistence" "aof_rewrite_in_progress" = "0")
        call s c [ "SET"; "after"; "rewrite" ] |> ignore
        let d = digest s c
        s.Stop()
        let after = DateTimeOffset.UtcNow.ToUnixTimeSeconds()

        // As redis-server 7.0.15 writes it: the base opens with "#TS:<the rewrite's second>".
        let m = manifest dir
        let baseText = Bytes.toString (File.ReadAllBytes(Path.Combine(aofDir dir, m.Base.Value.Name)))
        Assert.StartsWith("#TS:", baseText)
        Assert.InRange(Array.head (stampsOf (Path.Combine(aofDir dir, m.Base.Value.Name))), before, after)
        // The new incr writes an annotation only once the second has moved on from the last one written.
        let incrText = Bytes.toString (File.ReadAllBytes(incrPath dir))
        if incrText.StartsWith "#TS:" then Assert.True(Array.head (stampsOf (incrPath dir)) > lastBefore)
        else Assert.StartsWith("*", incrText)
        let again = openServer dir [ "--enable-debug-command"; "yes" ]

        try
            Assert.Equal(d, digest again (connect again))
        finally
            again.Stop())

[<Fact>]
let ``a new log file carries the second of the last annotation on`` () =
    withDir "ts-carry" (fun dir ->
        let path = Path.Combine(dir, "log.aof")
        let now = DateTimeOffset.UtcNow.ToUnixTimeSeconds()

        let written (carried: int64) =
            let l = new AofLog(FileSink.openAppend path, SyncPolicy.No, true, Log.Console, ignore)
            l.LastTimestamp <- carried
            l.Append [ { Db = 0; Op = Op.Set("k"B, "v"B, TtlChange.Keep) } ] |> ignore
            (l :> IDisposable).Dispose()
            let text = Bytes.toString (File.ReadAllBytes path)
            File.Delete path
            text

        // Carried from a file that annotated a later second: nothing to add yet.
        Assert.StartsWith("*", written (now + 3600L))
        Assert.StartsWith("#TS:", written 0L))

[<Fact>]
let ``a legacy appendonly.aof is loaded and moved into the AOF directory as the base`` () =
    withDir "legacy" (fun dir ->
        let legacy =
            let out = Buffers.ArrayBufferWriter<byte>()

            for cmd in
                [ [ "SELECT"; "0" ]
                  [ "SET"; "a"; "1" ]
                  [ "INCR"; "n" ]
                  [ "MULTI" ]
                  [ "SET"; "b"; "2" ]
                  [ "INCR"; "n" ]
                  [ "EXEC" ]
                  [ "SELECT"; "5" ]
                  [ "SET"; "x"; "in five" ] ] do
                RespWriter.writeCommand out (cmd |> List.map Bytes.ofString |> List.toArray)

            out.WrittenSpan.ToArray()

        File.WriteAllBytes(Path.Combine(dir, "appendonly.aof"), legacy)
        let s = openServer dir []
        let c = connect s
        Assert.Equal(bulk "1", call s c [ "GET"; "a" ])
        Assert.Equal(bulk "2", call s c [ "GET"; "n" ])
        Assert.False(File.Exists(Path.Combine(dir, "appendonly.aof")))
        Assert.Equal<byte[]>(legacy, File.ReadAllBytes(Path.Combine(aofDir dir, "appendonly.aof")))
        // What Redis 7.0.15 writes for the same upgrade.
        Assert.Equal("file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n", File.ReadAllText(manifestPath dir))
        Assert.Equal<string list>([ "appendonly.aof"; incrName 1; "appendonly.aof.manifest" ], filesIn dir)

        let loaded = snapshot s
        Assert.Equal(Reply.ok, call s c [ "SET"; "after"; "upgrade" ])
        let expected = snapshot s
        s.Stop()

        let again = openServer dir []

        try
            assertSame "after a restart" expected (snapshot again)
            assertSame "the legacy part" loaded (Keyspace.toMap (Keyspace.withDb 0 (Db.remove (Bytes.ofString "after") again.Keyspace.Dbs[0]) again.Keyspace))
        finally
            again.Stop())

[<Fact>]
let ``CONFIG SET looks at every name before any value, refuses a name given twice and changes nothing then`` () =
    withDir "config-set-names" (fun dir ->
        let s = openServer dir [ "--appendfsync"; "everysec" ]
        let c = connect s
        let failed (arg: string) (why: string) = Reply.Error(sprintf "ERR CONFIG SET failed (possibly related to argument '%s') - %s" arg why)
        // Each answer as redis-server 7.0.15 gave it.
        Assert.Equal(failed "APPENDFSYNC" "duplicate parameter", call s c [ "CONFIG"; "SET"; "appendfsync"; "always"; "APPENDFSYNC"; "no" ])
        Assert.Equal(failed "appendfsync" "duplicate parameter", call s c [ "CONFIG"; "SET"; "appendfsync"; "bad"; "appendfsync"; "always" ])
        Assert.Equal(
            Reply.Error "ERR Unknown option or number of arguments for CONFIG SET - 'NOSUCH'",
            call s c [ "CONFIG"; "SET"; "appendfsync"; "bad"; "NOSUCH"; "x" ]
        )
        Assert.Equal(failed "DAEMONIZE" "can't set immutable config", call s c [ "CONFIG"; "SET"; "appendfsync"; "bad"; "DAEMONIZE"; "yes" ])
        Assert.Equal(failed "DIR" "can't set protected config", call s c [ "CONFIG"; "SET"; "DIR"; "/tmp" ])
        Assert.Equal(
            failed "appendfsync" "argument(s) must be one of the following: everysec, always, no",
            call s c [ "CONFIG"; "SET"; "APPENDFSYNC"; "bad"; "appendonly"; "yes" ]
        )
        Assert.Equal(Reply.Array [| Reply.bulkString "appendfsync"; Reply.bulkString "everysec" |], call s c [ "CONFIG"; "GET"; "appendfsync" ])
        Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendfsync"; "always"; "no-appendfsync-on-rewrite"; "yes" ])
        Assert.Equal(Reply.Array [| Reply.bulkString "appendfsync"; Reply.bulkString "always" |], call s c [ "CONFIG"; "GET"; "appendfsync" ])
        s.Stop())

[<Fact>]
let ``CONFIG SET appendonly yes where the AOF directory cannot be made is refused as Redis refuses it`` () =
    withDir "no-aof-dir" (fun dir ->
        let s = openServer dir [ "--appendonly"; "no" ]
        let c = connect s
        call s c [ "SET"; "k"; "v" ] |> ignore
        // A file where the directory should be: redis-server 7.0.15 answers the same error for it.
        File.WriteAllText(aofDir dir, "not a directory")

        Assert.Equal(
            Reply.Error "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.",
            call s c [ "CONFIG"; "SET"; "appendonly"; "yes" ]
        )

        Assert.Equal(Reply.Array [| Reply.bulkString "appendonly"; Reply.bulkString "no" |], call s c [ "CONFIG"; "GET"; "appendonly" ])
        Assert.Equal("0", infoField s c "persistence" "aof_enabled")
        Assert.Equal("0", infoField s c "persistence" "aof_rewrites")
        File.Delete(aofDir dir)
        Assert.Equal(Reply.ok, call s c [ "CONFIG"; "SET"; "appendonly"; "yes" ])
        Assert.Equal("1", infoField s c "persistence" "aof_enabled")
        // redis-server 7.0.15 counts the rewrite that turned the log on.
        Assert.Equal("1", infoField s c "persistence" "aof_rewrites")
        s.Stop())
