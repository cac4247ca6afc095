/// Loading the AOF: a log cut at any byte loads exactly its longest whole prefix (or is refused), garbage
/// and torn files other than the last are fatal, annotations are skipped, and a bad manifest or an RDB
/// preamble is refused with a message that says so.
module Aof.Engine.Tests.AofLoadTests

open System
open System.Buffers
open System.IO
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core
open Aof.Engine
open Aof.Engine.Tests.AofSupport

/// What a client sends: one command, or MULTI ... EXEC around several.
type Step =
    | One of string list
    | Tx of string list list

/// A log made by a real server, and the dataset after each step with the incr file's length then.
type BuiltLog =
    { Manifest: byte[]
      Base: byte[]
      Incr: byte[]
      /// (incr length, dataset) after each step, the empty start first.
      Points: (int64 * Map<int, Map<string, Plain * int64>>) list }

let private encode (commands: string list list) : byte[] =
    let out = ArrayBufferWriter<byte>()

    for c in commands do
        RespWriter.writeCommand out (c |> List.map Bytes.ofString |> List.toArray)

    out.WrittenSpan.ToArray()

let private ascii (s: string) = Bytes.ofString s

/// Runs the steps through a server with `appendfsync always` and records the incr file after each.
let private build (steps: Step list) : BuiltLog =
    let dir = tempDir "build"

    try
        let s = openServer dir [ "--appendfsync"; "always" ]
        let incr = incrPath dir
        let c = connect s

        let points =
            try
                [ yield 0L, snapshot s

                  for step in steps do
                      match step with
                      | One cmd -> call s c cmd |> ignore
                      | Tx cmds ->
                          call s c [ "MULTI" ] |> ignore

                          for cmd in cmds do
                              call s c cmd |> ignore

                          call s c [ "EXEC" ] |> ignore

                      yield FileInfo(incr).Length, snapshot s ]
            finally
                s.Stop()

        let m = manifest dir

        { Manifest = File.ReadAllBytes(manifestPath dir)
          Base = File.ReadAllBytes(Path.Combine(aofDir dir, m.Base.Value.Name))
          Incr = File.ReadAllBytes incr
          Points = points }
    finally
        deleteDir dir

/// Lays out a manifest with its base and incr files in a fresh directory.
let private layout (manifestText: byte[]) (files: (string * byte[]) list) =
    let dir = tempDir "load"
    Directory.CreateDirectory(aofDir dir) |> ignore
    File.WriteAllBytes(manifestPath dir, manifestText)

    for (name, bytes) in files do
        File.WriteAllBytes(Path.Combine(aofDir dir, name), bytes)

    dir

let private standardManifest = ascii (sprintf "file %s seq 1 type b\nfile %s seq 1 type i\n" (baseName 1) (incrName 1))

/// Starts a server on the layout and loads; the dataset (or the error), and the server stopped.
let private load (dir: string) (extra: string list) =
    match tryOpenWith EngineHooks.Default dir (Path.Combine(dir, "server.log")) extra with
    | Ok s ->
        let state = snapshot s
        s.Stop()
        Ok state
    | Error e -> Error e

let private truncatedFlag (yes: bool) = [ "--aof-load-truncated"; (if yes then "yes" else "no") ]

/// The whole check for one cut, in `dir` (reused from cut to cut): with `aof-load-truncated yes` the
/// longest whole prefix is loaded and the file is cut to it; with `no` a cut off a unit boundary is refused
/// and the file left alone.
let private checkCut (dir: string) (log: BuiltLog) (ends: int64 list) (k: int) (yes: bool) =
    let prefix = ends |> List.filter (fun e -> e <= int64 k) |> List.max
    let expected = log.Points |> List.filter (fun (len, _) -> len <= prefix) |> List.last |> snd
    Directory.CreateDirectory(aofDir dir) |> ignore
    File.WriteAllBytes(manifestPath dir, log.Manifest)
    File.WriteAllBytes(Path.Combine(aofDir dir, baseName 1), log.Base)
    let incr = Path.Combine(aofDir dir, incrName 1)
    File.WriteAllBytes(incr, log.Incr[0 .. k - 1])

    match load dir (truncatedFlag yes) with
    | Ok state ->
        if not yes && prefix <> int64 k then
            failwithf "cut at %d (whole prefix %d) loaded with aof-load-truncated no" k prefix

        if state <> expected then
            failwithf "cut at %d (yes=%b): loaded\n%A\nexpected the state after %d bytes\n%A" k yes state prefix expected

        let onDisk = FileInfo(incr).Length

        if onDisk <> prefix then
            failwithf "cut at %d: the incr file is %d bytes, expected it cut to %d" k onDisk prefix
    | Error e ->
        if yes || prefix = int64 k then
            failwithf "cut at %d (whole prefix %d, yes=%b) failed to load: %s" k prefix yes e

        if not (e.Contains "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof") then
            failwithf "cut at %d: unexpected message %s" k e

        if FileInfo(incr).Length <> int64 k then failwithf "cut at %d: a refused load changed the file" k

/// Checks cuts at the given offsets, yes and no, in one scratch directory.
let private checkCuts (log: BuiltLog) (ends: int64 list) (cuts: int seq) =
    let dir = tempDir "cut"

    try
        for k in cuts do
            checkCut dir log ends k true
            checkCut dir log ends k false
    finally
        deleteDir dir

/// The unit boundaries of a built log, checked against the steps: every step ends on one.
let private boundaries (log: BuiltLog) =
    let commands, tail = parseAof log.Incr
    Assert.Equal(Clean, tail)
    let ends = unitEnds commands

    for (len, _) in log.Points do
        if not (List.contains len ends) then failwithf "a step ended at %d, inside a unit" len

    ends

let private binary = "*1\r\n$3\r\nSET\r\n"

/// Values with the AOF's own syntax inside, and commands of every kind the log writes.
let private handwritten =
    [ One [ "SET"; "a"; "v" ]
      One [ "SET"; "b"; "a\r\nb" ]
      One [ "INCR"; "n" ]
      One [ "SELECT"; "1" ]
      Tx [ [ "SET"; "a"; "x" ]; [ "INCR"; "n" ]; [ "APPEND"; "a"; binary ] ]
      One [ "SET"; "c"; "v"; "EX"; "1000" ]
      One [ "SELECT"; "0" ]
      Tx [ [ "DEL"; "a" ] ]
      One [ "MSET"; "a"; "1"; "b"; "2" ]
      One [ "APPEND"; "b"; "tail" ]
      One [ "MOVE"; "b"; "2" ]
      One [ "SELECT"; "2" ]
      Tx [ [ "INCRBY"; "n"; "7" ]; [ "SET"; "x"; "" ]; [ "EXPIRE"; "b"; "1000" ] ]
      One [ "SETRANGE"; "x"; "3"; "yz" ]
      One [ "RENAME"; "x"; "y" ] ]

[<Fact>]
let ``a log cut at every byte loads its longest whole prefix, or with aof-load-truncated no only on a boundary`` () =
    let log = build handwritten
    let ends = boundaries log
    // The handwritten steps must really have made MULTI units and several databases.
    Assert.Contains([ "MULTI" ], parseAof log.Incr |> fst |> List.map (fun c -> c.Args))
    Assert.True(log.Incr.Length > 300, sprintf "log of %d bytes" log.Incr.Length)

    checkCuts log ends (seq { 0 .. log.Incr.Length })

let private keys = [ "a"; "b"; "c"; "n" ]
let private values = [ "v"; ""; "x y"; "a\r\nb"; binary; "12"; "-3" ]

let private commandGen: Gen<string list> =
    let k = Gen.elements keys
    let v = Gen.elements values

    Gen.frequency
        [ 4, Gen.map2 (fun k v -> [ "SET"; k; v ]) k v
          1, Gen.map2 (fun k v -> [ "SET"; k; v; "EX"; "1000" ]) k v
          1, Gen.map2 (fun k v -> [ "SET"; k; v; "KEEPTTL" ]) k v
          2, Gen.map (fun k -> [ "INCR"; k ]) k
          1, Gen.map2 (fun k n -> [ "INCRBY"; k; string n ]) k (Gen.choose (-5, 5))
          2, Gen.map2 (fun k v -> [ "APPEND"; k; v ]) k v
          1, Gen.map2 (fun a b -> [ "DEL"; a; b ]) k k
          1, Gen.map4 (fun a x b y -> [ "MSET"; a; x; b; y ]) k v k v
          1, Gen.map (fun k -> [ "EXPIRE"; k; "1000" ]) k
          1, Gen.map (fun k -> [ "PERSIST"; k ]) k
          1, Gen.map2 (fun a b -> [ "RENAME"; a; b ]) k k
          1, Gen.map2 (fun k v -> [ "SETRANGE"; k; "2"; v ]) k v
          1, Gen.map2 (fun k d -> [ "MOVE"; k; string d ]) k (Gen.choose (0, 2)) ]

let private stepGen: Gen<Step> =
    Gen.frequency
        [ 8, Gen.map One commandGen
          1, Gen.map (fun d -> One [ "SELECT"; string d ]) (Gen.choose (0, 2))
          2, Gen.map Tx (Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.listOfLength n commandGen)) ]

[<Fact>]
let ``random logs cut at random offsets never load a wrong value`` () =
    let arb =
        Arb.fromGen (
            Gen.zip (Gen.choose (1, 25) |> Gen.bind (fun n -> Gen.listOfLength n stepGen)) (Gen.listOfLength 4 (Gen.choose (0, Int32.MaxValue)))
        )

    let prop (steps: Step list, cuts: int list) =
        let log = build steps
        let ends = boundaries log

        checkCuts log ends (cuts |> List.map (fun cut -> cut % (log.Incr.Length + 1)))
        true

    Check.One(Config.QuickThrowOnFailure.WithMaxTest 30, Prop.forAll arb prop)

let private expectError (dir: string) (extra: string list) =
    match load dir extra with
    | Ok state -> failwithf "loaded %A" state
    | Error e -> e

[<Fact>]
let ``garbage in the middle of the log is fatal, with its offset, even with aof-load-truncated yes`` () =
    let before = encode [ [ "SET"; "a"; "1" ]; [ "SET"; "b"; "2" ] ]
    let after = encode [ [ "SET"; "c"; "3" ] ]

    let cases =
        [ "a line that is no command", ascii "garbage\r\n"
          "a bulk not followed by CRLF", ascii "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nvX\r\n"
          "a bulk length that is no number", ascii "*2\r\n$3\r\nGET\r\n$x\r\nk\r\n"
          "a NUL byte", [| 0uy |] ]

    for (what, garbage) in cases do
        for yes in [ true; false ] do
            let incr = Array.concat [ before; garbage; after ]
            let dir = layout standardManifest [ baseName 1, [||]; incrName 1, incr ]

            try
                let e = expectError dir (truncatedFlag yes)
                Assert.True(e.Contains "Bad file format reading the append only file appendonly.aof.1.incr.aof", sprintf "%s: %s" what e)
                Assert.True(e.Contains(sprintf "at offset %d" before.Length), sprintf "%s: %s" what e)
                Assert.Equal<byte[]>(incr, File.ReadAllBytes(Path.Combine(aofDir dir, incrName 1)))
            finally
                deleteDir dir

[<Fact>]
let ``a file the manifest names but the disk lacks stops the start, as in redis-server 7.0.15`` () =
    let incr = encode [ [ "SET"; "a"; "1" ] ]

    for (missing, present) in [ baseName 1, (incrName 1, incr); incrName 1, (baseName 1, incr) ] do
        let dir = layout standardManifest [ present ]

        try
            for yes in [ true; false ] do
                let e = expectError dir (truncatedFlag yes)
                Assert.Equal(sprintf "Unable to obtain the AOF file %s length. stat: No such file or directory" missing, e)
                Assert.False(File.Exists(Path.Combine(aofDir dir, missing)), "the start made up the missing file")
        finally
            deleteDir dir

[<Fact>]
let ``a MULTI inside an open one and an EXEC with none load as in redis-server 7.0.15`` () =
    // Redis's loader gave a, b and c for the first file and a, b for the second.
    let nested = encode [ [ "MULTI" ]; [ "SET"; "a"; "1" ]; [ "MULTI" ]; [ "SET"; "b"; "2" ]; [ "EXEC" ]; [ "SET"; "c"; "3" ] ]
    let stray = encode [ [ "SET"; "a"; "1" ]; [ "EXEC" ]; [ "SET"; "b"; "2" ] ]

    for (incr, keys) in [ nested, [ "a"; "b"; "c" ]; stray, [ "a"; "b" ] ] do
        let dir = layout standardManifest [ baseName 1, [||]; incrName 1, incr ]

        try
            match load dir [] with
            | Error e -> failwith e
            | Ok state -> Assert.Equal<string list>(keys, state[0] |> Map.toList |> List.map fst |> List.sort)
        finally
            deleteDir dir

[<Fact>]
let ``a MULTI left open at the end counts as a torn tail`` () =
    let whole = encode [ [ "SET"; "a"; "1" ] ]
    let openTx = encode [ [ "MULTI" ]; [ "SET"; "b"; "2" ]; [ "INCR"; "n" ] ]
    let incr = Array.append whole openTx

    let dir = layout standardManifest [ baseName 1, [||]; incrName 1, incr ]

    try
        let e = expectError dir (truncatedFlag false)
        Assert.Contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof", e)

        match load dir (truncatedFlag true) with
        | Ok state ->
            Assert.Equal<Map<int, Map<string, Plain * int64>>>(Map [ 0, Map [ "a", (Plain.Str(ascii "1"), Expiry.none) ] ], state)
            Assert.Equal(int64 whole.Length, FileInfo(Path.Combine(aofDir dir, incrName 1)).Length)
        | Error e -> failwith e
    finally
        deleteDir dir

[<Fact>]
let ``a torn file that is not the last is fatal even with aof-load-truncated yes`` () =
    let whole = encode [ [ "SET"; "a"; "1" ]; [ "SET"; "b"; "2" ] ]
    let torn = whole[0 .. whole.Length - 4]
    let incr = encode [ [ "SET"; "c"; "3" ] ]

    // A torn base before an incr.
    let dir = layout standardManifest [ baseName 1, torn; incrName 1, incr ]

    try
        let e = expectError dir (truncatedFlag true)
        Assert.Contains("Unexpected end of file reading the append only file appendonly.aof.1.base.aof", e)
        Assert.Equal<byte[]>(torn, File.ReadAllBytes(Path.Combine(aofDir dir, baseName 1)))
    finally
        deleteDir dir

    // A torn incr before the last incr.
    let twoIncrs =
        ascii (sprintf "file %s seq 1 type b\nfile %s seq 1 type i\nfile %s seq 2 type i\n" (baseName 1) (incrName 1) (incrName 2))

    let dir = layout twoIncrs [ baseName 1, [||]; incrName 1, torn; incrName 2, incr ]

    try
        let e = expectError dir (truncatedFlag true)
        Assert.Contains("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof", e)
        Assert.Equal<byte[]>(torn, File.ReadAllBytes(Path.Combine(aofDir dir, incrName 1)))
    finally
        deleteDir dir

[<Fact>]
let ``TS annotations are skipped, and a torn one at the end is a torn tail`` () =
    let ts (n: int) = ascii (sprintf "#TS:%d\r\n" (1700000000 + n))

    let incr =
        Array.concat
            [ ts 0
              encode [ [ "SET"; "a"; "1" ] ]
              ts 1
              encode [ [ "MULTI" ]; [ "SET"; "b"; "2" ]; [ "INCR"; "n" ]; [ "EXEC" ] ]
              ts 2
              encode [ [ "APPEND"; "a"; "#TS:3\r\n" ] ] ]

    let expected =
        Map
            [ 0,
              Map
                  [ "a", (Plain.Str(ascii "1#TS:3\r\n"), Expiry.none)
                    "b", (Plain.Str(ascii "2"), Expiry.none)
                    "n", (Plain.Str(ascii "1"), Expiry.none) ] ]

    for withTornAnnotation in [ false; true ] do
        let bytes = if withTornAnnotation then Array.append incr (ascii "#TS:17000") else incr
        let dir = layout standardManifest [ baseName 1, ts 9; incrName 1, bytes ]

        try
            match load dir (truncatedFlag true) with
            | Ok state -> Assert.Equal<Map<int, Map<string, Plain * int64>>>(expected, state)
            | Error e -> failwith e

            Assert.Equal(int64 incr.Length, FileInfo(Path.Combine(aofDir dir, incrName 1)).Length)
        finally
            deleteDir dir

/// Each verified against redis-server 7.0.15 with the same manifest bytes.
let private badManifests =
    [ "file appendonly.aof.1.base.aof seq 1\n", "Invalid AOF manifest file format"
      "file appendonly.aof.1.base.aof seq 0 type b\n", "Invalid AOF manifest file format"
      "\n", "Invalid AOF manifest file format"
      "file a/b seq 1 type b\n", "File can't be a path, just a filename"
      "file x seq 1 type b\nfile y seq 2 type b\n", "Found duplicate base file information"
      "file x seq 1 type b\nfile y seq 2 type i\nfile z seq 2 type i\n", "Found a non-monotonic sequence number"
      "file x seq 1 type q\n", "Unknown AOF file type"
      "file x seq 1 type b", "The AOF manifest file contains too long line"
      sprintf "file %s seq 1 type b\n" (String('x', 1100)), "The AOF manifest file contains too long line"
      "", "Found an empty AOF manifest" ]

[<Fact>]
let ``a bad manifest is refused with Redis's message`` () =
    for (text, message) in badManifests do
        let dir = layout (ascii text) []

        try
            Assert.Equal(message, expectError dir [])
        finally
            deleteDir dir

[<Fact>]
let ``a manifest of comments only is an empty one, as in Redis 7.0`` () =
    let dir = layout (ascii "# nothing here yet\n") []

    try
        match load dir [] with
        | Ok state -> Assert.True(state.IsEmpty)
        | Error e -> failwith e

        let m = manifest dir
        Assert.Equal(Some(baseName 1), m.Base |> Option.map (fun b -> b.Name))
        Assert.Equal<string list>([ incrName 1 ], m.Incrs |> List.map (fun f -> f.Name))
    finally
        deleteDir dir

[<Fact>]
let ``a base with an RDB preamble is refused with a message that says so`` () =
    let rdb = Array.append (ascii "REDIS0010") (Array.zeroCreate 32)
    let dir = layout standardManifest [ baseName 1, rdb; incrName 1, encode [ [ "SET"; "a"; "1" ] ] ]

    try
        let e = expectError dir []
        Assert.Contains("appendonly.aof.1.base.aof", e)
        Assert.Contains("RDB preamble", e)
        Assert.Equal<byte[]>(rdb, File.ReadAllBytes(Path.Combine(aofDir dir, baseName 1)))
    finally
        deleteDir dir
