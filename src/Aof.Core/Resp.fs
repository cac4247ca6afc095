namespace Aof.Core

// PLACEHOLDER: the RESP helper replaces this file, keeping the API.

open System
open System.Buffers

/// Redis's protocol limits (`proto-max-bulk-len`, the multibulk count cap).
type RespLimits =
    { MaxBulkLen: int64
      MaxMultibulkLen: int64 }

    static member Default =
        { MaxBulkLen = 512L * 1024L * 1024L
          MaxMultibulkLen = 1024L * 1024L }

[<RequireQualifiedAccess>]
type ReadStatus =
    /// A whole command was read: `args` and `consumed` are set.
    | Command = 0
    /// More bytes are needed; nothing was consumed.
    | Incomplete = 1
    /// The bytes break the protocol: `error` holds Redis's message (`Protocol error: ...`, no `ERR`).
    | ProtocolError = 2
    /// Only blank inline lines were consumed (`consumed` is set); keep reading.
    | Skipped = 3

/// Reads client requests: RESP arrays of bulk strings, and inline commands as telnet sends them.
/// Stateless: it reads from the start of whatever has arrived, so a partial command is simply read again
/// once more bytes are there.
[<AbstractClass; Sealed>]
type RespReader =
    static member TryRead
        (buffer: ReadOnlySpan<byte>, limits: RespLimits, consumed: byref<int>, args: byref<byte[][]>, error: byref<string>)
        : ReadStatus =
        ignore buffer.Length
        ignore limits
        consumed <- 0
        args <- null
        error <- null
        ReadStatus.Incomplete

/// Serializes replies straight into the connection's output buffer.
module RespWriter =
    let write (output: IBufferWriter<byte>) (reply: Reply) : unit = ignore output; ignore reply

    /// A client request as an array of bulk strings: how commands are written to an AOF.
    let writeCommand (output: IBufferWriter<byte>) (args: byte[][]) : unit = ignore output; ignore args
