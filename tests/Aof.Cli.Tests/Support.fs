/// AOF bytes, generators, temporary directories and the two checkers (ours in-process, redis-check-aof as
/// a process) for the tests.
module Aof.Cli.Tests.Support

open System
open System.Diagnostics
open System.IO
open System.Text
open System.Text.RegularExpressions
open System.Threading.Tasks
open Xunit
open Xunit.Abstractions
open FsCheck
open FsCheck.FSharp

let bytes (s: string) = Encoding.Latin1.GetBytes s
let latin1 (b: byte[]) = Encoding.Latin1.GetString b

/// A command as Redis writes it in an AOF.
let command (args: byte[] list) : byte[] =
    use ms = new MemoryStream()
    let write (b: byte[]) = ms.Write(b, 0, b.Length)
    write (bytes (sprintf "*%d\r\n" args.Length))

    for a in args do
        write (bytes (sprintf "$%d\r\n" a.Length))
        write a
        write (bytes "\r\n")

    ms.ToArray()

let cmd (args: string list) = command (List.map bytes args)

/// A MULTI/EXEC block around commands: one unit, loaded all or nothing.
let transaction (body: byte[] list) = Array.concat ([ cmd [ "MULTI" ] ] @ body @ [ cmd [ "EXEC" ] ])

/// The offsets where pieces end: the prefixes of a file that load whole.
let boundaries (pieces: byte[] list) = pieces |> List.scan (fun n (p: byte[]) -> n + p.Length) 0

module Gens =
    let private printable = Gen.elements (List.ofSeq "abcxyzKV:_0123456789")

    /// Arguments: mostly short text; sometimes any bytes (CR, LF, NUL, '*', '$' included); now and then
    /// longer than redis-check-aof's 127-byte line buffer.
    let arg: Gen<byte[]> =
        Gen.frequency
            [ 6, Gen.choose (0, 12) |> Gen.bind (fun n -> Gen.arrayOfLength n printable) |> Gen.map (Array.map byte)
              2, Gen.choose (0, 24) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (0, 255))) |> Gen.map (Array.map byte)
              1, Gen.choose (100, 400) |> Gen.bind (fun n -> Gen.arrayOfLength n printable) |> Gen.map (Array.map byte) ]

    let plainCommand: Gen<byte[]> =
        gen {
            let! name = Gen.elements [ "SET"; "DEL"; "INCR"; "RPUSH"; "HSET"; "SELECT"; "PING"; "PEXPIREAT" ]
            let! n = Gen.choose (0, 3)
            let! args = Gen.listOfLength n arg
            return command (bytes name :: args)
        }

    let annotation: Gen<byte[]> =
        Gen.choose (0, Int32.MaxValue) |> Gen.map (fun t -> bytes (sprintf "#TS:%d\r\n" t))

    let transactionPiece: Gen<byte[]> =
        Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.listOfLength n plainCommand) |> Gen.map transaction

    /// Commands and transactions (no annotations): every piece boundary is where a cut may load to.
    let commands: Gen<byte[] list> =
        Gen.choose (1, 10)
        |> Gen.bind (fun n -> Gen.listOfLength n (Gen.frequency [ 5, plainCommand; 1, transactionPiece ]))

    /// Also `#TS:` annotations between them.
    let pieces: Gen<byte[] list> =
        Gen.choose (1, 10)
        |> Gen.bind (fun n -> Gen.listOfLength n (Gen.frequency [ 6, plainCommand; 1, transactionPiece; 1, annotation ]))

    /// Garbage neither checker reads as part of a number: redis-check-aof's strtol takes blanks, signs and
    /// leading zeros that our reader refuses, so those bytes are left out where the two must agree.
    let garbage: Gen<byte[]> =
        let alphabet = [ yield! "GARBAGEgarbage!@%&?:;*$#" |> Seq.map byte; 0uy; 0x80uy; 0xffuy ]
        Gen.choose (1, 8) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.elements alphabet))

    /// Any bytes at all.
    let anyBytes: Gen<byte[]> =
        Gen.choose (1, 8) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.choose (0, 255))) |> Gen.map (Array.map byte)

/// How a generated file is damaged.
type Damage =
    | Intact
    /// Cut at this fraction of the file's length.
    | Cut of float
    /// These bytes inserted at this fraction of the file's length.
    | Insert of float * byte[]
    /// A MULTI (with these commands) that no EXEC closes appended, then cut at this fraction of that tail.
    | OpenMulti of byte[] list * float

module Damage =
    let private at (fraction: float) (length: int) = min length (int (fraction * float (length + 1)))

    let gen (garbage: Gen<byte[]>) : Gen<Damage> =
        let fraction = Gen.choose (0, 1000) |> Gen.map (fun n -> float n / 1000.0)

        Gen.frequency
            [ 1, Gen.constant Intact
              3, fraction |> Gen.map Cut
              3, Gen.map2 (fun f g -> Insert(f, g)) fraction garbage
              2, Gen.map2 (fun b f -> OpenMulti(b, f)) (Gen.choose (0, 3) |> Gen.bind (fun n -> Gen.listOfLength n Gens.plainCommand)) fraction ]

    let apply (damage: Damage) (file: byte[]) : byte[] =
        match damage with
        | Intact -> file
        | Cut f -> file[.. at f file.Length - 1]
        | Insert(f, g) ->
            let i = at f file.Length
            Array.concat [ file[.. i - 1]; g; file[i..] ]
        | OpenMulti(body, f) ->
            let tail = Array.concat (cmd [ "MULTI" ] :: body)
            // Never shorter than the MULTI itself: a torn MULTI is a plain truncation.
            let keep = max (cmd [ "MULTI" ]).Length (at f tail.Length)
            Array.append file tail[.. keep - 1]

/// A temporary directory, removed afterwards.
type TempDir() =
    let dir = Directory.CreateTempSubdirectory "aof-cli-"
    member _.Path = dir.FullName
    member t.File(name: string) = Path.Combine(t.Path, name)

    member t.Write(name: string, content: byte[]) =
        let p = t.File name
        File.WriteAllBytes(p, content)
        p

    interface IDisposable with
        member _.Dispose() =
            try
                dir.Delete true
            with _ ->
                ()

let isCI =
    String.Equals(Environment.GetEnvironmentVariable "CI", "true", StringComparison.OrdinalIgnoreCase)

let redisCheckAof: string option =
    (Environment.GetEnvironmentVariable "PATH" |> Option.ofObj |> Option.defaultValue "").Split(Path.PathSeparator)
    |> Array.filter (fun d -> d <> "")
    |> Array.map (fun d -> Path.Combine(d, "redis-check-aof"))
    |> Array.tryFind File.Exists

/// Whether redis-check-aof is installed; when not, says so in the test output (and fails under CI=true,
/// where a missing tool means a broken setup).
let requireRedis (output: ITestOutputHelper) =
    match redisCheckAof with
    | Some _ -> true
    | None ->
        let reason = "SKIPPED: redis-check-aof is not on PATH (apt-get install redis-tools)"
        if isCI then Assert.Fail(reason + " — CI must have it")
        output.WriteLine reason
        false

/// Runs a program with `stdin` as its input; its exit code and stdout, byte for byte (as Latin-1).
let runProcess (exe: string) (args: string list) (stdin: string) : int * string =
    let info =
        ProcessStartInfo(
            exe,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true
        )

    for a in args do
        info.ArgumentList.Add a

    use p = Process.Start info
    use out = new MemoryStream()
    let reading = p.StandardOutput.BaseStream.CopyToAsync out
    let errors = p.StandardError.ReadToEndAsync()

    try
        p.StandardInput.Write stdin
        p.StandardInput.Close()
    with :? IOException ->
        () // it exited without reading

    p.WaitForExit()
    Task.WaitAll(reading, errors)
    p.ExitCode, latin1 (out.ToArray())

let runRedis (args: string list) (stdin: string) = runProcess redisCheckAof.Value args stdin

/// Our command in-process: the same entry point as `aof`'s main.
let runOurs (args: string list) (stdin: string) : int * string =
    use out = new MemoryStream()
    let code = Aof.Cli.Program.run (Array.ofList args) (new StringReader(stdin)) out
    code, latin1 (out.ToArray())

/// The pid and the time in Redis's log lines (manifest errors) are not for comparing.
let private logPrefix =
    Regex(@"(?m)^\d+:C \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} # ", RegexOptions.Compiled)

let normalise (dir: string) (text: string) =
    // The one line that names the tool to run again names ours.
    logPrefix.Replace(text, "<pid>:C <time> # ").Replace(dir, "<dir>").Replace("Then re-run redis-check-aof.", "Then re-run aof check.")

let okUpTo (text: string) =
    Regex.Matches(text, @"ok_up_to=(\d+),") |> Seq.map (fun m -> int64 m.Groups[1].Value) |> Seq.toList

/// What one run of both checkers on the same files gave: exit codes and outputs (paths and log stamps
/// normalised), and each directory's files afterwards.
type Runs =
    { Theirs: int * string
      Ours: int * string
      FilesTheirs: (string * byte[]) list
      FilesOurs: (string * byte[]) list
      Describe: unit -> string }

/// Writes the same files into two directories, runs redis-check-aof (flags, then the target) on one and
/// `aof check` (the same) on the other, with the same stdin.
let runBoth (files: (string * byte[]) list) (target: string) (flags: string list) (stdin: string) : Runs =
    use theirs = new TempDir()
    use ours = new TempDir()

    for name, content in files do
        theirs.Write(name, content) |> ignore
        ours.Write(name, content) |> ignore

    let rc1, out1 = runRedis (flags @ [ theirs.File target ]) stdin
    let rc2, out2 = runOurs ([ "check" ] @ flags @ [ ours.File target ]) stdin
    let n1, n2 = normalise theirs.Path out1, normalise ours.Path out2
    let after (d: TempDir) = files |> List.map (fun (n, _) -> n, File.ReadAllBytes(d.File n))

    let describe () =
        let shown =
            files
            |> List.map (fun (n, c) -> sprintf "  %s (%d bytes): %A" n c.Length (if c.Length <= 600 then latin1 c else "..."))
            |> String.concat "\n"

        sprintf "files:\n%s\nredis-check-aof %A (exit %d):\n%s\naof check (exit %d):\n%s" shown flags rc1 n1 rc2 n2

    { Theirs = rc1, n1
      Ours = rc2, n2
      FilesTheirs = after theirs
      FilesOurs = after ours
      Describe = describe }

/// runBoth, failing unless both print the same, exit the same and leave the same bytes behind. Returns the
/// exit code and the (normalised) output.
let agree (files: (string * byte[]) list) (target: string) (flags: string list) (stdin: string) : int * string =
    let r = runBoth files target flags stdin
    if r.Theirs <> r.Ours then failwith (r.Describe())
    if r.FilesTheirs <> r.FilesOurs then failwithf "the files differ afterwards\n%s" (r.Describe())
    r.Theirs
