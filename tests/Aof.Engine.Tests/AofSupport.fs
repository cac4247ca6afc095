/// Helpers shared by the AOF tests: servers on a directory, commands, the files the AOF leaves, and a
/// reference dataset built from acknowledged commands.
module Aof.Engine.Tests.AofSupport

open System
open System.Diagnostics
open System.IO
open System.Text
open Aof.Core
open Aof.Engine

let tempDir (tag: string) =
    let dir = Path.Combine(Path.GetTempPath(), sprintf "aof-%s-%s" tag (Guid.NewGuid().ToString("N").Substring(0, 12)))
    Directory.CreateDirectory dir |> ignore
    dir

let deleteDir (dir: string) =
    try
        if Directory.Exists dir then Directory.Delete(dir, true)
    with _ ->
        ()

/// A scratch directory that goes away with the test. Declare it (`use dir = new Scratch "tag"`) before
/// the server that writes into it, so the server is disposed first.
type Scratch(tag: string) =
    let path = tempDir tag
    member _.Path = path

    interface IDisposable with
        member _.Dispose() = deleteDir path

let aofDir (dir: string) = Path.Combine(dir, "appendonlydir")
let manifestPath (dir: string) = Path.Combine(aofDir dir, "appendonly.aof.manifest")
let baseName (seq: int) = sprintf "appendonly.aof.%d.base.aof" seq
let incrName (seq: int) = sprintf "appendonly.aof.%d.incr.aof" seq

/// The manifest on disk.
let manifest (dir: string) : Manifest =
    match Manifest.parse (File.ReadAllBytes(manifestPath dir)) with
    | Ok m -> m
    | Error e -> failwithf "manifest of %s: %s" dir e

/// The incr file new writes go to (the manifest's last).
let incrPath (dir: string) =
    match Manifest.lastIncr (manifest dir) with
    | Some f -> Path.Combine(aofDir dir, f.Name)
    | None -> failwithf "no incr file in the manifest of %s" dir

/// Starts a server on `dir` with the AOF on (`extra` may override that) and its log in `logFile`, without
/// loading anything yet.
let startWith (hooks: EngineHooks) (dir: string) (logFile: string) (extra: string list) : Server =
    let args = [ "--dir"; dir; "--appendonly"; "yes"; "--logfile"; logFile ] @ extra

    match Server.StartWith(List.toArray args, hooks) with
    | Ok s -> s
    | Error(struct (message, _)) -> failwith message

/// Starts and loads; a loading error stops the server and comes back as Error.
let tryOpenWith (hooks: EngineHooks) (dir: string) (logFile: string) (extra: string list) : Result<Server, string> =
    let s = startWith hooks dir logFile extra

    match s.LoadNow() with
    | Ok() -> Ok s
    | Error e ->
        s.Stop()
        Error e

let openWith (hooks: EngineHooks) (dir: string) (logFile: string) (extra: string list) : Server =
    match tryOpenWith hooks dir logFile extra with
    | Ok s -> s
    | Error e -> failwithf "loading %s failed: %s" dir e

/// A server with the default hooks, logging into `dir/server.log`.
let openServer (dir: string) (extra: string list) : Server =
    openWith EngineHooks.Default dir (Path.Combine(dir, "server.log")) extra

let connect (s: Server) =
    match s.Connect("127.0.0.1:5000", "127.0.0.1:6379") with
    | ValueSome c -> c
    | ValueNone -> failwith "connection refused"

let call (s: Server) (c: Session) (args: string list) : Reply =
    s.Call(c, args |> List.map Bytes.ofString |> List.toArray)

let bulk (text: string) = Reply.Bulk(Bytes.ofString text)

let misconf (reason: string) = Reply.Error("MISCONF Errors writing to the AOF file: " + reason)

/// Polls a condition with a bound instead of sleeping for luck.
let eventually (what: string) (timeoutMs: int) (cond: unit -> bool) =
    let sw = Stopwatch.StartNew()

    while not (cond ()) do
        if sw.ElapsedMilliseconds > int64 timeoutMs then failwithf "timed out after %d ms waiting for %s" timeoutMs what
        Threading.Thread.Sleep 10

/// A file another handle still has open for writing (the log, an incr file).
let readShared (path: string) : byte[] =
    use stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite ||| FileShare.Delete)
    use copy = new MemoryStream()
    stream.CopyTo copy
    copy.ToArray()

let readLog (path: string) = Encoding.UTF8.GetString(readShared path)

let info (s: Server) (c: Session) (section: string) : string =
    match call s c [ "INFO"; section ] with
    | Reply.Bulk b -> Bytes.toString b
    | other -> failwithf "INFO %s: %A" section other

/// One `name:value` line of INFO.
let infoField (s: Server) (c: Session) (section: string) (name: string) : string =
    (info s c section).Split([| "\r\n" |], StringSplitOptions.RemoveEmptyEntries)
    |> Array.tryPick (fun line -> if line.StartsWith(name + ":") then Some(line.Substring(name.Length + 1)) else None)
    |> Option.defaultWith (fun () -> failwithf "no %s in INFO %s" name section)

let digest (s: Server) (c: Session) : string =
    // Redis answers DEBUG DIGEST with a status reply (+<40 hex>).
    match call s c [ "DEBUG"; "DIGEST" ] with
    | Reply.Simple d -> d
    | other -> failwithf "DEBUG DIGEST: %A" other

let snapshot (s: Server) = Keyspace.toMap s.Keyspace

/// One command read back from an AOF file, with where it starts and ends.
type LoggedCommand =
    { Args: string list
      Start: int64
      End: int64 }

/// How a file's bytes end after its last whole command.
type Tail =
    | Clean
    | Torn of at: int64
    | Garbage of at: int64 * reason: string

/// Reads an AOF file's bytes into its commands (annotations skipped) and how it ends.
let parseAof (bytes: byte[]) : LoggedCommand list * Tail =
    let rec go (pos: int) (acc: LoggedCommand list) =
        let mutable consumed = 0
        let mutable args: byte[][] = null
        let mutable error: string = null
        let status = AofReader.TryRead(ReadOnlySpan(bytes, pos, bytes.Length - pos), &consumed, &args, &error)

        match status with
        | AofRead.Command ->
            let cmd =
                { Args = args |> Array.map Bytes.toString |> Array.toList
                  Start = int64 pos
                  End = int64 (pos + consumed) }

            go (pos + consumed) (cmd :: acc)
        | AofRead.Annotation -> go (pos + consumed) acc
        | AofRead.Malformed -> List.rev acc, Garbage(int64 pos, error)
        | _ -> List.rev acc, (if pos = bytes.Length then Clean else Torn(int64 pos))

    go 0 []

/// The offsets at which a prefix of the file is a whole log: 0, and the end of every command that is not
/// inside a MULTI ... EXEC (a transaction counts only once its EXEC is in).
let unitEnds (commands: LoggedCommand list) : int64 list =
    let mutable inTx = false

    [ yield 0L
      for c in commands do
          match c.Args.Head.ToLowerInvariant() with
          | "multi" -> inTx <- true
          | "exec" ->
              inTx <- false
              yield c.End
          | _ -> if not inTx then yield c.End ]

/// The dataset the acknowledged commands make on a server that logs nothing: the reference a restarted
/// server must equal.
let reference (acknowledged: string list list) : Map<int, Map<string, Plain * int64>> * string =
    let dir = tempDir "ref"

    try
        let s = openServer dir [ "--appendonly"; "no"; "--enable-debug-command"; "yes" ]

        try
            let c = connect s

            for cmd in acknowledged do
                call s c cmd |> ignore

            snapshot s, digest s c
        finally
            s.Stop()
    finally
        deleteDir dir
