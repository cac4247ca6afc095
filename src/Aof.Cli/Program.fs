/// `aof check`: the files, the console and the exit codes around Check, worded and numbered as
/// redis-check-aof 7.0 does.
module Aof.Cli.Program

open System
open System.Globalization
open System.IO
open System.Text
open Argu
open Microsoft.Win32.SafeHandles
open Aof.Core

type CheckArgs =
    | [<MainCommand; ExactlyOnce>] Path of path: string
    | Fix
    | Yes
    | Truncate_To_Timestamp of timestamp: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Path _ -> "an AOF manifest (multi-part AOF) or a single AOF file."
            | Fix -> "truncate the damaged tail of the last file, after asking (as redis-check-aof --fix)."
            | Yes -> "with --fix: truncate without asking."
            | Truncate_To_Timestamp _ ->
                "cut the last file before its first #TS: annotation later than this Unix time (as redis-check-aof --truncate-to-timestamp; needs aof-timestamp-enabled)."

[<RequireQualifiedAccess>]
type Args =
    | [<CliPrefix(CliPrefix.None); SubCommand>] Check of ParseResults<CheckArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Check _ -> "check (and optionally fix) an append-only file the way redis-check-aof does."

/// A file opened for reading as an IByteSource.
type FileSource(handle: SafeFileHandle) =
    let length = RandomAccess.GetLength handle

    static member Open(path: string) =
        new FileSource(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))

    interface IByteSource with
        member _.Length = length

        member _.ReadAt(offset, dest, start, count) =
            let mutable total = 0
            let mutable more = true

            while more && total < count do
                let n = RandomAccess.Read(handle, Span<byte>(dest, start + total, count - total), offset + int64 total)
                if n <= 0 then more <- false else total <- total + n

            total

    interface IDisposable with
        member _.Dispose() = handle.Dispose()

/// Ends the command with an exit code, as redis-check-aof's exit() calls do.
exception ExitWith of int

/// Bytes to stdout: file contents in error lines go out as they are, not re-encoded.
type private Output(stream: Stream) =
    member _.Bytes(b: byte[]) = stream.Write(b, 0, b.Length)
    member o.Text(s: string) = o.Bytes(Encoding.UTF8.GetBytes s)
    member o.Line(s: string) = o.Text(s + "\n")
    member _.Flush() = stream.Flush()

/// strerror's wording for the usual reasons a file does not open.
let private reason (e: exn) =
    match e with
    | :? FileNotFoundException
    | :? DirectoryNotFoundException -> "No such file or directory"
    | :? UnauthorizedAccessException -> "Permission denied"
    | e -> e.Message

/// POSIX dirname, which redis-check-aof joins to the manifest's file names with "/".
let dirname (path: string) =
    let strip (s: string) = if s.Length > 1 then s.TrimEnd '/' |> (fun t -> if t = "" then "/" else t) else s
    let p = strip path
    let i = p.LastIndexOf '/'
    if i < 0 then "." elif i = 0 then "/" else strip (p.Substring(0, i))

type private Verdict =
    | Valid
    | Empty
    | Truncated
    | TruncatedTo of timestamp: int64

/// The timestamp of --truncate-to-timestamp as redis-check-aof reads it: strtol over the whole argument
/// (blanks and a sign first; "" is 0), refused if anything follows the number or it overflows. 0 means
/// no truncation, as in Redis.
let parseTimestamp (text: string) : int64 voption =
    let bytes = Array.append (Encoding.UTF8.GetBytes text) [| 0uy |]
    let struct (value, stop, overflow) = RedisReading.strtol bytes 0
    if not overflow && bytes[stop] = 0uy then ValueSome value else ValueNone

type private Run(out: Output, stdin: TextReader, fix: bool, yes: bool, truncateTo: int64 voption) =
    /// redis-check-aof's line counter (and more) runs on across the files of a multi-part AOF.
    let mutable carry = Carry.Start

    let exit code = raise (ExitWith code)

    let unsupportedRdb (name: string) =
        out.Line(sprintf "AOF %s starts with an RDB preamble: checking RDB bases is not supported yet" name)
        exit 1

    /// One file: analyse, report, and with --fix truncate its tail when it is the last file.
    member _.Single(name: string, filepath: string, isLast: bool) : Verdict =
        let src =
            try
                FileSource.Open filepath
            with e ->
                out.Line(sprintf "Cannot open file %s: %s, aborting..." filepath (reason e))
                exit 1

        let a =
            try
                let s = src :> IByteSource
                if s.Length = 0L then None else Some(Check.analyseUntil s carry filepath truncateTo)
            finally
                (src :> IDisposable).Dispose()

        let truncate (length: int64) =
            try
                use f = new FileStream(filepath, FileMode.Open, FileAccess.Write)
                f.SetLength length
            with _ ->
                out.Line(sprintf "Failed to truncate AOF %s" name)
                exit 1

        match a, truncateTo with
        | None, _ -> Empty
        | Some a, _ when a.TimestampError ->
            out.Line "Invalid timestamp annotation"
            exit 1
        | Some { Cut = ValueSome cut }, ValueSome ts ->
            if cut = 0L then
                out.Line(sprintf "AOF %s has nothing before timestamp %d, aborting..." filepath ts)
                exit 1
            elif not isLast then
                out.Line(sprintf "Failed to truncate AOF %s to timestamp %d to offset %d because it is not the last file." filepath ts cut)
                out.Line
                    "If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run aof check."
                exit 1
            else
                truncate cut
                TruncatedTo ts
        | Some a, ValueSome ts when a.Valid ->
            carry <- a.Next
            out.Line(sprintf "Truncate nothing in AOF %s to timestamp %d" name ts)
            Valid
        | Some a, _ ->
            carry <- a.Next
            if a.FormatError then out.Line(sprintf "AOF %s format error" name)

            match a.Error with
            | Some e ->
                out.Bytes(Check.errorLine e)
                out.Text "\n"
            | None -> ()

            out.Line(
                sprintf "AOF analyzed: filename=%s, size=%d, ok_up_to=%d, ok_up_to_line=%d, diff=%d" name a.Size a.OkUpTo a.OkUpToLine a.Diff
            )

            if a.Diff = 0L then
                Valid
            elif not fix then
                out.Line(sprintf "AOF %s is not valid. Use the --fix option to try fixing it." name)
                exit 1
            elif not isLast then
                out.Line(sprintf "Failed to truncate AOF %s because it is not the last file" name)
                exit 1
            else
                out.Line(sprintf "This will shrink the AOF %s from %d bytes, with %d bytes, to %d bytes" name a.Size a.Diff a.OkUpTo)

                if not yes then
                    out.Text "Continue? [y/N]: "
                    out.Flush()
                    let answer = stdin.ReadLine()

                    if isNull answer || not (answer.StartsWith 'y' || answer.StartsWith 'Y') then
                        out.Line "Aborting..."
                        exit 1

                truncate a.OkUpTo
                Truncated

    member r.OldStyle(path: string, kind: InputKind) =
        out.Line "Start checking Old-Style AOF"
        if kind = InputKind.RdbPreamble then unsupportedRdb path

        match r.Single(path, path, true) with
        | Valid -> out.Line(sprintf "AOF %s is valid" path)
        | Empty -> out.Line(sprintf "AOF %s is empty" path)
        | Truncated -> out.Line(sprintf "Successfully truncated AOF %s" path)
        | TruncatedTo ts -> out.Line(sprintf "Successfully truncated AOF %s to timestamp %d" path ts)

    member r.MultiPart(manifestPath: string) =
        out.Line "Start checking Multi Part AOF"
        // A manifest is a few lines; a large file taken for one fails on its first lines.
        let bytes =
            use f = File.OpenRead manifestPath
            let cap = int (min f.Length (16L * 1024L * 1024L))
            let b = Array.zeroCreate<byte> cap
            f.ReadExactly(b, 0, cap)
            b

        match Check.loadManifest bytes with
        | Error e ->
            // Redis reports manifest errors through its log: "pid:C date # message", each followed by a blank line.
            let stamp = DateTime.Now.ToString("dd MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture)
            let log (text: byte[]) =
                out.Text(sprintf "%d:C %s # " Environment.ProcessId stamp)
                out.Bytes text
                out.Text "\n"

            log (Encoding.ASCII.GetBytes "\n*** FATAL AOF MANIFEST FILE ERROR ***\n")

            match e.Line with
            | Some(n, text) ->
                log (Encoding.ASCII.GetBytes(sprintf "Reading the manifest file, at line %d\n" n))
                log (Array.concat [ Encoding.ASCII.GetBytes ">>> '"; text; Encoding.ASCII.GetBytes "'\n" ])
            | None -> ()

            log (Encoding.UTF8.GetBytes(e.Message + "\n"))
            exit 1
        | Ok m ->
            let dir = dirname manifestPath
            let files = Manifest.liveFiles m
            let total = List.length files
            let mutable n = 0

            match m.Base with
            | Some b ->
                let filepath = dir + "/" + b.Name

                let rdb =
                    try
                        use src = FileSource.Open filepath
                        Check.hasRdbPreamble src
                    with e ->
                        out.Line(sprintf "Cannot open file %s: %s" filepath (reason e))
                        exit 1

                out.Line(sprintf "Start to check BASE AOF (%s format)." (if rdb then "RDB" else "RESP"))
                if rdb then unsupportedRdb b.Name
                n <- n + 1

                match r.Single(b.Name, filepath, (n = total)) with
                | Valid -> out.Line(sprintf "BASE AOF %s is valid" b.Name)
                | Empty -> out.Line(sprintf "BASE AOF %s is empty" b.Name)
                | Truncated -> out.Line(sprintf "Successfully truncated AOF %s" b.Name)
                | TruncatedTo ts -> out.Line(sprintf "Successfully truncated AOF %s to timestamp %d" b.Name ts)
            | None -> ()

            if not m.Incrs.IsEmpty then
                out.Line "Start to check INCR files."

                for i in m.Incrs do
                    n <- n + 1

                    match r.Single(i.Name, dir + "/" + i.Name, (n = total)) with
                    | Valid -> out.Line(sprintf "INCR AOF %s is valid" i.Name)
                    | Empty -> out.Line(sprintf "INCR AOF %s is empty" i.Name)
                    | Truncated -> out.Line(sprintf "Successfully truncated AOF %s" i.Name)
                    | TruncatedTo ts -> out.Line(sprintf "Successfully truncated AOF %s to timestamp %d" i.Name ts)

            out.Line "All AOF files and manifest are valid"

/// `aof check <path> [--fix [--yes] | --truncate-to-timestamp <t>]`: what redis-check-aof does with the
/// same flags; 0 when the files are valid (or were fixed or cut), 1 otherwise.
let checkUntil (path: string) (fix: bool) (yes: bool) (truncateTo: int64 voption) (stdin: TextReader) (stdout: Stream) : int =
    let out = Output stdout
    let run = Run(out, stdin, fix, yes, truncateTo)

    try
        try
            let kind =
                // A directory opens in C but does not read.
                if Directory.Exists path then
                    out.Line(sprintf "Cannot read file: %s" path)
                    raise (ExitWith 1)

                try
                    use src = FileSource.Open path
                    Check.detect src
                with e ->
                    out.Line(sprintf "Cannot open file %s: %s" path (reason e))
                    raise (ExitWith 1)

            match kind with
            | InputKind.Manifest -> run.MultiPart path
            | InputKind.Resp
            | InputKind.RdbPreamble -> run.OldStyle(path, kind)

            0
        with ExitWith code ->
            code
    finally
        out.Flush()

/// `aof check <path> [--fix] [--yes]` (see checkUntil).
let check (path: string) (fix: bool) (yes: bool) (stdin: TextReader) (stdout: Stream) : int =
    checkUntil path fix yes ValueNone stdin stdout

/// The whole command line; what `main` runs, callable in-process by tests.
let private parser = lazy (ArgumentParser.Create<Args>(programName = "aof"))

let run (argv: string[]) (stdin: TextReader) (stdout: Stream) : int =
    let parser = parser.Value

    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)

        let say (text: string) =
            let b = Encoding.UTF8.GetBytes(text + "\n")
            stdout.Write(b, 0, b.Length)
            stdout.Flush()
            1

        match results.TryGetSubCommand() with
        | Some(Args.Check c) ->
            let path = c.GetResult CheckArgs.Path

            match c.TryGetResult CheckArgs.Truncate_To_Timestamp with
            // One or the other, as redis-check-aof's usage says.
            | Some _ when c.Contains CheckArgs.Fix ->
                say "Usage: aof check [--fix [--yes] | --truncate-to-timestamp <timestamp>] <file.manifest|file.aof>"
            | Some text ->
                match parseTimestamp text with
                | ValueNone -> say "Invalid timestamp, aborting..."
                | ValueSome ts -> checkUntil path false false (if ts = 0L then ValueNone else ValueSome ts) stdin stdout
            | None -> check path (c.Contains CheckArgs.Fix) (c.Contains CheckArgs.Yes) stdin stdout
        | None -> say (parser.PrintUsage())
    with :? ArguParseException as e ->
        let b = Encoding.UTF8.GetBytes(e.Message + "\n")
        stdout.Write(b, 0, b.Length)
        stdout.Flush()
        if e.ErrorCode = ErrorCode.HelpText then 0 else 1

[<EntryPoint>]
let main argv =
    use stdout = Console.OpenStandardOutput()
    run argv Console.In stdout
