namespace Aof.Engine

open System
open System.Globalization
open System.IO
open System.Text

/// Verbosity, least to most severe; a line is written when its level is at least the log's level.
/// Case order matters: the generated comparison is what filters lines.
[<RequireQualifiedAccess>]
type LogLevel =
    | Debug
    | Verbose
    | Notice
    | Warning

/// Writes Redis-shaped log lines: `<pid>:M 21 Nov 2026 19:35:54.123 * message`.
/// One line is written and flushed under a lock, so lines from different threads never interleave
/// and a reader tailing the file sees each line as soon as it is logged.
[<Sealed>]
type Log private (path: string, writer: TextWriter, ownsWriter: bool, initialLevel: LogLevel) =
    let gate = obj ()
    let pid = Environment.ProcessId
    let mutable level = initialLevel
    let mutable disposed = false

    // One shared instance: several writers on the same stdout would only add locks, not order.
    static let console = lazy (new Log("", System.Console.Out, false, LogLevel.Notice))

    /// The mark Redis puts after the time stamp, so existing log-reading tools keep working.
    static member LevelChar(lvl: LogLevel) : char =
        match lvl with
        | LogLevel.Debug -> '.'
        | LogLevel.Verbose -> '-'
        | LogLevel.Notice -> '*'
        | LogLevel.Warning -> '#'

    /// One complete line without its newline; pure so the shape can be tested with a fixed clock.
    /// The role is always `M`: this server has no forked children or replicas to tell apart.
    static member FormatLine(pid: int, time: DateTime, lvl: LogLevel, message: string) : string =
        let stamp = time.ToString("dd MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture)
        String.Concat(string pid, ":M ", stamp, " ", string (Log.LevelChar lvl), " ", message)

    /// `path` "" logs to standard output, as Redis does with an empty `logfile`; otherwise the file is
    /// opened for appending and shared, so tools can tail it and log rotation can move it.
    /// Error carries Redis's wording: `Can't open the log file: <reason>`.
    static member Open(path: string, lvl: LogLevel) : Result<Log, string> =
        if String.IsNullOrEmpty path then
            Ok(new Log("", System.Console.Out, false, lvl))
        else
            try
                let stream =
                    new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite ||| FileShare.Delete)

                let writer = new StreamWriter(stream, UTF8Encoding(false))
                writer.AutoFlush <- true
                Ok(new Log(path, writer, true, lvl))
            with
            | :? FileNotFoundException
            | :? DirectoryNotFoundException -> Error "Can't open the log file: No such file or directory"
            | :? UnauthorizedAccessException -> Error "Can't open the log file: Permission denied"
            | :? IOException as e -> Error("Can't open the log file: " + e.Message)

    /// Standard output at notice level: for errors found before the configuration says where to log.
    static member Console: Log = console.Value

    /// "" when logging to standard output.
    member _.Path = path

    /// Settable because `CONFIG SET loglevel` changes it while the server runs.
    member _.Level
        with get () = level
        and set v = level <- v

    member _.IsEnabled(lvl: LogLevel) = lvl >= level

    member _.Write(lvl: LogLevel, message: string) : unit =
        if lvl >= level then
            let line = Log.FormatLine(pid, DateTime.Now, lvl, message)

            lock gate (fun () ->
                if not disposed then
                    // A full disk or a vanished terminal must not take the server down with it.
                    try
                        writer.WriteLine line
                        writer.Flush()
                    with
                    | :? IOException
                    | :? ObjectDisposedException -> ())

    member this.Debug(message: string) = this.Write(LogLevel.Debug, message)
    member this.Verbose(message: string) = this.Write(LogLevel.Verbose, message)
    member this.Notice(message: string) = this.Write(LogLevel.Notice, message)
    member this.Warning(message: string) = this.Write(LogLevel.Warning, message)

    interface IDisposable with
        member _.Dispose() =
            lock gate (fun () ->
                if not disposed then
                    disposed <- true

                    if ownsWriter then
                        writer.Dispose())
