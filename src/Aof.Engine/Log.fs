namespace Aof.Engine

// PLACEHOLDER: replaced by the Redis-format logger.

[<RequireQualifiedAccess>]
type LogLevel =
    | Debug
    | Verbose
    | Notice
    | Warning

/// Writes Redis-shaped log lines: `<pid>:M 21 Nov 2026 19:35:54.123 * message`.
[<Sealed>]
type Log(path: string, level: LogLevel) =
    member _.Path = path
    member _.Level = level
    member _.Write(lvl: LogLevel, message: string) : unit = if lvl >= level then stdout.WriteLine message
    member this.Notice(message: string) = this.Write(LogLevel.Notice, message)
    member this.Warning(message: string) = this.Write(LogLevel.Warning, message)
    member this.Verbose(message: string) = this.Write(LogLevel.Verbose, message)
