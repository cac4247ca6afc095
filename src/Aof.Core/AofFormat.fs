namespace Aof.Core

open System
open System.Buffers
open System.Buffers.Text

[<RequireQualifiedAccess>]
type AofRead =
    /// A whole command: `args` and `consumed` are set.
    | Command = 0
    /// A `#...` annotation line (such as `#TS:`), skipped on load: `consumed` is set.
    | Annotation = 1
    /// More bytes are needed. At the end of a file this means the file is truncated.
    | Incomplete = 2
    /// Not an AOF: `error` says what was expected.
    | Malformed = 3

/// Reads commands from AOF bytes. Stateless like the RESP reader: it reads from the start of whatever it is
/// given, so a loader can feed a file in chunks of any size. Stricter than a client request: every line
/// ends in CRLF and every length is a plain number, so garbage is reported rather than half-read.
[<AbstractClass; Sealed>]
type AofReader =
    /// Annotation lines longer than this are not annotations (Redis reads them into a 1 KiB buffer).
    static member MaxAnnotation = 1024

    static member private Line(buffer: ReadOnlySpan<byte>, start: int) : int =
        let i = buffer.Slice(start).IndexOf('\n'B)
        if i < 0 then -1 else start + i

    /// A header line `<prefix><number>\r\n` at `start`; the number, or -1 for incomplete, -2 for malformed.
    static member private Header(buffer: ReadOnlySpan<byte>, start: int, next: byref<int>) : int64 =
        let nl = AofReader.Line(buffer, start)

        if nl < 0 then
            if buffer.Length - start > 64 then -2L else -1L
        elif nl - start < 3 || buffer[nl - 1] <> '\r'B then
            -2L
        else
            match Num.parseInt64 (buffer.Slice(start + 1, nl - 1 - start - 1)) with
            | ValueSome n when n >= 0L ->
                next <- nl + 1
                n
            | _ -> -2L

    /// The bulk string at `start`: Command with its bytes in `bulk` and `next` past it, or Incomplete, or
    /// Malformed with `error` set.
    static member private Bulk(buffer: ReadOnlySpan<byte>, start: int, next: byref<int>, bulk: byref<byte[]>, error: byref<string>) : AofRead =
        if start >= buffer.Length then
            AofRead.Incomplete
        elif buffer[start] <> '$'B then
            error <- sprintf "expected '$', got '%c'" (char buffer[start])
            AofRead.Malformed
        else
            let mutable data = 0
            let len = AofReader.Header(buffer, start, &data)

            if len = -1L then
                AofRead.Incomplete
            elif len < 0L || len > 512L * 1024L * 1024L then
                error <- "invalid bulk length"
                AofRead.Malformed
            elif int64 (buffer.Length - data) < len + 2L then
                AofRead.Incomplete
            elif buffer[data + int len] <> '\r'B || buffer[data + int len + 1] <> '\n'B then
                error <- "expected CRLF after a bulk string"
                AofRead.Malformed
            else
                bulk <- buffer.Slice(data, int len).ToArray()
                next <- data + int len + 2
                AofRead.Command

    /// A whole, well-formed plain `SET key value` at the start of `buffer`: its key and value, and `consumed`.
    /// Nearly every command of a base file is one, and reading it this way allocates nothing but the key and
    /// the value, which the loaded dataset keeps; false for anything else, which TryRead then reads (or
    /// reports) as usual.
    static member TryReadSet(buffer: ReadOnlySpan<byte>, consumed: byref<int>, key: byref<byte[]>, value: byref<byte[]>) : bool =
        // "*3\r\n$3\r\nSET\r\n" in any case: 13 bytes.
        if buffer.Length < 13
           || buffer[0] <> '*'B || buffer[1] <> '3'B || buffer[2] <> '\r'B || buffer[3] <> '\n'B
           || buffer[4] <> '$'B || buffer[5] <> '3'B || buffer[6] <> '\r'B || buffer[7] <> '\n'B
           || (buffer[8] ||| 0x20uy) <> 's'B || (buffer[9] ||| 0x20uy) <> 'e'B || (buffer[10] ||| 0x20uy) <> 't'B
           || buffer[11] <> '\r'B || buffer[12] <> '\n'B then
            false
        else
            let mutable afterKey = 0
            let mutable afterValue = 0
            let mutable k: byte[] = null
            let mutable v: byte[] = null
            let mutable error: string = null

            if AofReader.Bulk(buffer, 13, &afterKey, &k, &error) = AofRead.Command
               && AofReader.Bulk(buffer, afterKey, &afterValue, &v, &error) = AofRead.Command then
                key <- k
                value <- v
                consumed <- afterValue
                true
            else
                false

    static member TryRead(buffer: ReadOnlySpan<byte>, consumed: byref<int>, args: byref<byte[][]>, error: byref<string>) : AofRead =
        consumed <- 0
        args <- null
        error <- null

        if buffer.IsEmpty then
            AofRead.Incomplete
        elif buffer[0] = '#'B then
            let nl = AofReader.Line(buffer, 0)

            if nl >= 0 then
                consumed <- nl + 1
                AofRead.Annotation
            elif buffer.Length > AofReader.MaxAnnotation then
                error <- "annotation line too long"
                AofRead.Malformed
            else
                AofRead.Incomplete
        elif buffer[0] <> '*'B then
            error <- sprintf "expected '*', got '%c'" (char buffer[0])
            AofRead.Malformed
        else
            let mutable pos = 0
            let argc = AofReader.Header(buffer, 0, &pos)

            if argc = -1L then
                AofRead.Incomplete
            elif argc < 1L || argc > 1024L * 1024L then
                error <- "invalid multibulk length"
                AofRead.Malformed
            else
                let result = Array.zeroCreate<byte[]> (int argc)
                let mutable status = AofRead.Command
                let mutable i = 0

                while status = AofRead.Command && i < result.Length do
                    status <- AofReader.Bulk(buffer, pos, &pos, &result[i], &error)
                    i <- i + 1

                if status = AofRead.Command then
                    consumed <- pos
                    args <- result

                status

/// How events land in an AOF: each command as a RESP array of bulk strings, a SELECT whenever the database
/// changes, MULTI/EXEC around a unit of more than one event so it loads all or nothing.
module AofFormat =
    let private select = Bytes.ofString "SELECT"
    let private multi = [| Bytes.ofString "MULTI" |]
    let private exec = [| Bytes.ofString "EXEC" |]
    let private setName = "SET"B

    let private writeArgs (out: IBufferWriter<byte>) (args: byte[][]) = RespWriter.writeCommand out args

    /// `#TS:<unix seconds>`, as Redis writes with `aof-timestamp-enabled yes`.
    let writeTimestamp (out: IBufferWriter<byte>) (unixSeconds: int64) =
        let text = Bytes.ofString (sprintf "#TS:%d\r\n" unixSeconds)
        text.CopyTo(out.GetSpan text.Length)
        out.Advance text.Length

    /// Writes one event, after a SELECT if it happened in another database than `selectedDb`; returns the
    /// database selected afterwards. A rewrite writes its base through this, one event at a time.
    let writeEvent (out: IBufferWriter<byte>) (selectedDb: int) (e: Event) : int =
        if e.Db <> selectedDb then
            writeArgs out [| select; Num.formatInt64 (int64 e.Db) |]

        writeArgs out (Event.toArgs e.Op)
        e.Db

    /// The bytes writeEvent writes for `SET key value` in `db`, with no event made for it; returns the
    /// database selected afterwards. A rewrite writes its string keys through this.
    let writeSet (out: IBufferWriter<byte>) (selectedDb: int) (db: int) (key: byte[]) (value: byte[]) : int =
        if db <> selectedDb then
            writeArgs out [| select; Num.formatInt64 (int64 db) |]

        RespWriter.writeCommand3 out setName key value
        db

    /// Writes one atomic unit of events; returns the database selected afterwards.
    let writeUnit (out: IBufferWriter<byte>) (selectedDb: int) (events: Event list) : int =
        match events with
        | [] -> selectedDb
        | [ e ] -> writeEvent out selectedDb e
        | first :: _ ->
            let mutable db = selectedDb

            // The SELECT goes before MULTI, as Redis propagates it.
            if first.Db <> db then
                writeArgs out [| select; Num.formatInt64 (int64 first.Db) |]
                db <- first.Db

            writeArgs out multi

            for e in events do
                db <- writeEvent out db e

            writeArgs out exec
            db
