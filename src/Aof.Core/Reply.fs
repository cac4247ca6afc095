namespace Aof.Core

/// A RESP2 reply, as Redis 7.0 sends it to a client that has not said HELLO 3.
[<RequireQualifiedAccess>]
type Reply =
    /// `+text`
    | Simple of string
    /// `-text`; the text carries its own prefix word (`ERR ...`, `WRONGTYPE ...`).
    | Error of string
    /// `:n`
    | Integer of int64
    /// `$len` + bytes
    | Bulk of byte[]
    /// `$-1`
    | Nil
    /// `*n` + elements
    | Array of Reply[]
    /// `*-1`
    | NilArray

module Reply =
    let ok = Reply.Simple "OK"
    let pong = Reply.Simple "PONG"
    let queued = Reply.Simple "QUEUED"
    let zero = Reply.Integer 0L
    let one = Reply.Integer 1L
    let emptyArray = Reply.Array [||]
    let bulkString (s: string) = Reply.Bulk(Bytes.ofString s)

    let err (text: string) = Reply.Error text

    let wrongArity (name: string) =
        Reply.Error(sprintf "ERR wrong number of arguments for '%s' command" name)

    let syntaxError = Reply.Error "ERR syntax error"
    let notInteger = Reply.Error "ERR value is not an integer or out of range"
    let notFloat = Reply.Error "ERR value is not a valid float"

    let wrongType =
        Reply.Error "WRONGTYPE Operation against a key holding the wrong kind of value"

    let noSuchKey = Reply.Error "ERR no such key"
    let dbIndexOutOfRange = Reply.Error "ERR DB index is out of range"
