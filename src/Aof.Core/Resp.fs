namespace Aof.Core

open System
open System.Buffers
open System.Buffers.Text
open System.Text

/// Redis's protocol limits (`proto-max-bulk-len`, the multibulk count cap) and whether the client has yet
/// to authenticate (then Redis allows only small requests: at most 10 arguments of at most 16 KiB).
type RespLimits =
    { MaxBulkLen: int64
      MaxMultibulkLen: int64
      Unauthenticated: bool }

    /// The multibulk cap is 1,048,576 elements, the limit this product promises (Redis 7.0.15 itself waits
    /// for up to INT_MAX). Built once: callers read it per request.
    static member val Default =
        { MaxBulkLen = 512L * 1024L * 1024L
          MaxMultibulkLen = 1024L * 1024L
          Unauthenticated = false }

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

/// What `RespReader.ReadAll` found in a buffer: the whole commands in order, how many bytes they (and any
/// skipped blank lines) took, and the protocol error that stopped reading, if any.
type RespBatch =
    { Commands: byte[][][]
      Consumed: int
      Error: string option }

/// Reads client requests: RESP arrays of bulk strings, and inline commands as telnet sends them.
/// Stateless: it reads from the start of whatever has arrived, so a partial command is simply read again
/// once more bytes are there.
[<AbstractClass; Sealed>]
type RespReader =
    /// PROTO_INLINE_MAX_SIZE: how many bytes Redis buffers while waiting for a line end before giving up.
    static member MaxLineLength = 64 * 1024

    /// Bulk positions remembered per command while it is validated (per thread: each socket thread reads).
    [<ThreadStatic; DefaultValue>]
    static val mutable private scratch: int[]

    static member private Remembered = 64

    /// Redis's string2ll: optional '-', then no leading zeros (a lone "0" excepted), no '+', no spaces,
    /// fewer than 21 characters, and within int64.
    static member private ParseInt(text: ReadOnlySpan<byte>) : int64 voption = Num.parseInt64 text

    /// Index of the first `terminator` at or after `start`, or -1. Redis finds line ends with strchr on a
    /// NUL-terminated buffer, so a NUL byte before the terminator hides it: Redis then keeps waiting (and
    /// eventually reports the line as too big), which this reproduces.
    static member private FindLineEnd(buffer: ReadOnlySpan<byte>, start: int, terminator: byte) : int =
        let i = buffer.Slice(start).IndexOfAny(terminator, 0uy)

        if i < 0 || buffer[start + i] = 0uy then -1 else start + i

    /// Redis turns CR and LF inside an error message into spaces so the reply stays one line.
    static member private ShownByte(b: byte) : char =
        if b = '\r'B || b = '\n'B then ' ' else char b

    static member private ReadMultibulk
        (buffer: ReadOnlySpan<byte>, limits: RespLimits, consumed: byref<int>, args: byref<byte[][]>, error: byref<string>)
        : ReadStatus =
        let cr = RespReader.FindLineEnd(buffer, 0, '\r'B)

        if cr < 0 then
            if buffer.Length > RespReader.MaxLineLength then
                error <- "Protocol error: too big mbulk count string"
                ReadStatus.ProtocolError
            else
                ReadStatus.Incomplete
        // Redis wants one byte after the CR before it trusts the line, but never checks that it is LF.
        elif cr + 1 >= buffer.Length then
            ReadStatus.Incomplete
        else
            let cap = min limits.MaxMultibulkLen (int64 Int32.MaxValue)

            match RespReader.ParseInt(buffer.Slice(1, cr - 1)) with
            | ValueSome count when count > 10L && count <= cap && limits.Unauthenticated ->
                error <- "Protocol error: unauthenticated multibulk length"
                ReadStatus.ProtocolError
            | ValueSome count when count <= cap ->
                if count <= 0L then
                    consumed <- cr + 2
                    ReadStatus.Skipped
                else
                    RespReader.ReadBulks(buffer, limits, cr + 2, int count, &consumed, &args, &error)
            | _ ->
                error <- "Protocol error: invalid multibulk length"
                ReadStatus.ProtocolError

    /// Validates every bulk header first, jumping over payloads by their length, so an incomplete command
    /// costs no allocation and no payload scanning; only a whole command is copied out.
    static member private ReadBulks
        (
            buffer: ReadOnlySpan<byte>,
            limits: RespLimits,
            start: int,
            count: int,
            consumed: byref<int>,
            args: byref<byte[][]>,
            error: byref<string>
        ) : ReadStatus =
        let mutable pos = start
        let mutable seen = 0
        let mutable status = ReadStatus.Command

        if isNull RespReader.scratch then
            RespReader.scratch <- Array.zeroCreate (2 * RespReader.Remembered)

        // Where each payload starts and how long it is, found while validating, so copying them out does
        // not scan and parse every header a second time.
        let spans = RespReader.scratch

        while status = ReadStatus.Command && seen < count do
            let cr = RespReader.FindLineEnd(buffer, pos, '\r'B)

            if cr < 0 then
                if buffer.Length - pos > RespReader.MaxLineLength then
                    error <- "Protocol error: too big bulk count string"
                    status <- ReadStatus.ProtocolError
                else
                    status <- ReadStatus.Incomplete
            elif cr + 1 >= buffer.Length then
                status <- ReadStatus.Incomplete
            // Redis looks at the first byte only once the whole header line is there.
            elif buffer[pos] <> '$'B then
                error <- sprintf "Protocol error: expected '$', got '%c'" (RespReader.ShownByte buffer[pos])
                status <- ReadStatus.ProtocolError
            else
                match RespReader.ParseInt(buffer.Slice(pos + 1, cr - pos - 1)) with
                | ValueSome len when len > 16384L && len <= limits.MaxBulkLen && limits.Unauthenticated ->
                    error <- "Protocol error: unauthenticated bulk length"
                    status <- ReadStatus.ProtocolError
                | ValueSome len when len >= 0L && len <= limits.MaxBulkLen ->
                    let data = cr + 2

                    // The two bytes after the payload are skipped unchecked, as Redis does.
                    if int64 (buffer.Length - data) < len + 2L then
                        status <- ReadStatus.Incomplete
                    else
                        if seen < RespReader.Remembered then
                            spans[2 * seen] <- data
                            spans[2 * seen + 1] <- int len

                        pos <- data + int len + 2
                        seen <- seen + 1
                | _ ->
                    error <- "Protocol error: invalid bulk length"
                    status <- ReadStatus.ProtocolError

        if status = ReadStatus.Command then
            let result = Array.zeroCreate<byte[]> count
            let mutable at = start

            for i in 0 .. count - 1 do
                if i < RespReader.Remembered then
                    result[i] <- buffer.Slice(spans[2 * i], spans[2 * i + 1]).ToArray()
                    at <- spans[2 * i] + spans[2 * i + 1] + 2
                else
                    let cr = at + buffer.Slice(at).IndexOf('\r'B)
                    let len = RespReader.ParseInt(buffer.Slice(at + 1, cr - at - 1)).Value
                    result[i] <- buffer.Slice(cr + 2, int len).ToArray()
                    at <- cr + 2 + int len + 2

            args <- result
            consumed <- pos

        status

    static member private Emit(dest: Span<byte>, write: bool, n: int, b: byte) : unit =
        if write then dest[n] <- b

    static member private At(line: ReadOnlySpan<byte>, i: int) : byte =
        if i < line.Length then line[i] else 0uy

    /// C's isspace in the C locale: blanks between inline arguments (and after a closing quote).
    static member private IsSpace(b: byte) : bool = b = ' 'B || (b >= 9uy && b <= 13uy)

    static member private HexValue(b: byte) : int =
        if b >= '0'B && b <= '9'B then int b - 48
        elif b >= 'a'B && b <= 'f'B then int b - 87
        elif b >= 'A'B && b <= 'F'B then int b - 55
        else -1

    static member private SkipBlanks(line: ReadOnlySpan<byte>, start: int) : int =
        let mutable p = start

        while p < line.Length && RespReader.IsSpace line[p] do
            p <- p + 1

        p

    /// A closing quote at `p` must end the argument: `"a"b` is an error, not `ab` (both quote kinds).
    static member private QuoteNotAtEnd(line: ReadOnlySpan<byte>, p: int) : bool =
        p + 1 < line.Length && not (RespReader.IsSpace line[p + 1])

    /// One inline argument starting at a non-blank `start`, split as Redis's sdssplitargs does. Returns the
    /// index just past it, or -1 for unbalanced quotes; `length` is its unescaped size, and its bytes go to
    /// `dest` when `write` (the caller measures first, then allocates exactly).
    /// The line never holds a NUL (see FindLineEnd), so "past the end" plays the role of C's terminator.
    static member private ScanToken
        (line: ReadOnlySpan<byte>, start: int, dest: Span<byte>, write: bool, length: byref<int>)
        : int =
        let mutable p = start
        let mutable n = 0
        let mutable inDouble = false
        let mutable inSingle = false
        let mutable fin = false
        let mutable bad = false

        while not fin do
            let c = RespReader.At(line, p)

            if inDouble then
                if c = '\\'B
                   && RespReader.At(line, p + 1) = 'x'B
                   && RespReader.HexValue(RespReader.At(line, p + 2)) >= 0
                   && RespReader.HexValue(RespReader.At(line, p + 3)) >= 0 then
                    let hi = RespReader.HexValue(line[p + 2])
                    let lo = RespReader.HexValue(line[p + 3])
                    RespReader.Emit(dest, write, n, (byte (hi * 16 + lo)))
                    n <- n + 1
                    p <- p + 3
                elif c = '\\'B && p + 1 < line.Length then
                    p <- p + 1

                    let escaped =
                        match line[p] with
                        | 'n'B -> '\n'B
                        | 'r'B -> '\r'B
                        | 't'B -> '\t'B
                        | 'b'B -> 8uy
                        | 'a'B -> 7uy
                        | other -> other

                    RespReader.Emit(dest, write, n, escaped)
                    n <- n + 1
                elif c = '"'B then
                    bad <- RespReader.QuoteNotAtEnd(line, p)
                    fin <- true
                elif p >= line.Length then
                    bad <- true
                    fin <- true
                else
                    RespReader.Emit(dest, write, n, c)
                    n <- n + 1
            elif inSingle then
                if c = '\\'B && RespReader.At(line, p + 1) = '\''B then
                    p <- p + 1
                    RespReader.Emit(dest, write, n, '\''B)
                    n <- n + 1
                elif c = '\''B then
                    bad <- RespReader.QuoteNotAtEnd(line, p)
                    fin <- true
                elif p >= line.Length then
                    bad <- true
                    fin <- true
                else
                    RespReader.Emit(dest, write, n, c)
                    n <- n + 1
            elif p >= line.Length then
                fin <- true
            else
                // Unquoted arguments end only at these bytes: a vertical tab or form feed stays inside
                // the argument even though it counts as a blank between arguments.
                match c with
                | ' 'B
                | '\n'B
                | '\r'B
                | '\t'B -> fin <- true
                | '"'B -> inDouble <- true
                | '\''B -> inSingle <- true
                | _ ->
                    RespReader.Emit(dest, write, n, c)
                    n <- n + 1

            if not bad && p < line.Length then
                p <- p + 1

        length <- n
        if bad then -1 else p

    static member private ReadInline
        (buffer: ReadOnlySpan<byte>, consumed: byref<int>, args: byref<byte[][]>, error: byref<string>)
        : ReadStatus =
        let nl = RespReader.FindLineEnd(buffer, 0, '\n'B)

        if nl < 0 then
            if buffer.Length > RespReader.MaxLineLength then
                error <- "Protocol error: too big inline request"
                ReadStatus.ProtocolError
            else
                ReadStatus.Incomplete
        else
            let lineLength = if nl > 0 && buffer[nl - 1] = '\r'B then nl - 1 else nl

            match RespReader.SplitArgs(buffer.Slice(0, lineLength)) with
            | null ->
                error <- "Protocol error: unbalanced quotes in request"
                ReadStatus.ProtocolError
            | [||] ->
                consumed <- nl + 1
                ReadStatus.Skipped
            | result ->
                args <- result
                consumed <- nl + 1
                ReadStatus.Command

    /// Splits one line into arguments as Redis's sdssplitargs does (inline commands, redis.conf lines,
    /// AOF manifest lines): blanks separate, "double quotes" take \n \r \t \b \a \\ \" and \xHH, 'single
    /// quotes' take only \', and a closing quote must end the argument. Null on unbalanced quotes.
    static member SplitArgs(line: ReadOnlySpan<byte>) : byte[][] =
        let mutable count = 0
        let mutable len = 0
        let mutable p = RespReader.SkipBlanks(line, 0)

        while p >= 0 && p < line.Length do
            let next = RespReader.ScanToken(line, p, Span<byte>.Empty, false, &len)

            if next >= 0 then
                count <- count + 1
                p <- RespReader.SkipBlanks(line, next)
            else
                p <- -1

        if p < 0 then
            null
        else
            let result = Array.zeroCreate<byte[]> count
            let mutable q = RespReader.SkipBlanks(line, 0)

            for i in 0 .. count - 1 do
                RespReader.ScanToken(line, q, Span<byte>.Empty, false, &len) |> ignore
                let arg = Array.zeroCreate<byte> len
                let next = RespReader.ScanToken(line, q, Span<byte>(arg), true, &len)
                result[i] <- arg
                q <- RespReader.SkipBlanks(line, next)

            result

    static member TryRead
        (buffer: ReadOnlySpan<byte>, limits: RespLimits, consumed: byref<int>, args: byref<byte[][]>, error: byref<string>)
        : ReadStatus =
        consumed <- 0
        args <- null
        error <- null

        if buffer.IsEmpty then
            ReadStatus.Incomplete
        // Like Redis, the first byte of each request decides its kind.
        elif buffer[0] = '*'B then
            RespReader.ReadMultibulk(buffer, limits, &consumed, &args, &error)
        else
            RespReader.ReadInline(buffer, &consumed, &args, &error)

    /// Reads commands until the buffer runs out or the protocol breaks (tests and tools; the server reads one
    /// command at a time so it can act between them).
    static member ReadAll(buffer: ReadOnlySpan<byte>, limits: RespLimits) : RespBatch =
        let commands = ResizeArray<byte[][]>()
        let mutable offset = 0
        let mutable stop = false
        let mutable failure = None

        while not stop do
            let mutable consumed = 0
            let mutable args = null
            let mutable error = null

            match RespReader.TryRead(buffer.Slice offset, limits, &consumed, &args, &error) with
            | ReadStatus.Command ->
                commands.Add args
                offset <- offset + consumed
            | ReadStatus.Skipped -> offset <- offset + consumed
            | ReadStatus.ProtocolError ->
                failure <- Some error
                stop <- true
            | _ -> stop <- true

        { Commands = commands.ToArray()
          Consumed = offset
          Error = failure }

/// Argument vectors of the commands the server writes itself (AOF records), built in one allocation.
module Args =
    /// `name key rest...`.
    let withKey (name: byte[]) (key: byte[]) (rest: byte[][]) : byte[][] =
        let args = Array.zeroCreate (rest.Length + 2)
        args[0] <- name
        args[1] <- key
        Array.blit rest 0 args 2 rest.Length
        args

    /// `name key a1 b1 a2 b2 ...`: each pair as `first` and `second` make it.
    let inline withPairs
        (name: byte[])
        (key: byte[])
        (pairs: 'P[])
        ([<InlineIfLambda>] first: 'P -> byte[])
        ([<InlineIfLambda>] second: 'P -> byte[])
        : byte[][] =
        let args = Array.zeroCreate (2 + 2 * pairs.Length)
        args[0] <- name
        args[1] <- key

        for i in 0 .. pairs.Length - 1 do
            args[2 + 2 * i] <- first pairs[i]
            args[3 + 2 * i] <- second pairs[i]

        args

/// Serializes replies straight into the connection's output buffer.
module RespWriter =
    /// Room for a type byte, an int64 in decimal and CRLF.
    [<Literal>]
    let private HeaderRoom = 24

    /// Bulk strings up to this size go out with their header in one span; larger ones are copied in
    /// chunks so the writer is never asked for one huge contiguous block.
    [<Literal>]
    let private InlinePayload = 4096

    // Shared so the fixed tokens are not re-allocated per reply.
    let private crlf = "\r\n"B
    let private nilBulk = "$-1\r\n"B
    let private nilArray = "*-1\r\n"B
    let private ok = "+OK\r\n"B

    let private writeHeaderInto (span: Span<byte>, prefix: byte, value: int64) : int =
        span[0] <- prefix

        // Nearly every header is an argument count or a short length: one or two digits, written directly.
        if value >= 0L && value < 100L then
            let v = int value

            if v < 10 then
                span[1] <- byte (48 + v)
                span[2] <- '\r'B
                span[3] <- '\n'B
                4
            else
                span[1] <- byte (48 + v / 10)
                span[2] <- byte (48 + v % 10)
                span[3] <- '\r'B
                span[4] <- '\n'B
                5
        else
            let mutable written = 0
            // Cannot fail: HeaderRoom leaves space for the longest int64.
            Utf8Formatter.TryFormat(value, span.Slice 1, &written) |> ignore
            span[1 + written] <- '\r'B
            span[2 + written] <- '\n'B
            written + 3

    let private writeHeader (output: IBufferWriter<byte>) (prefix: byte) (value: int64) : unit =
        let span = output.GetSpan HeaderRoom
        output.Advance(writeHeaderInto (span, prefix, value))

    let private writeRaw (output: IBufferWriter<byte>, data: ReadOnlySpan<byte>) : unit =
        let mutable rest = data

        while not rest.IsEmpty do
            let span = output.GetSpan(min rest.Length InlinePayload)
            let n = min span.Length rest.Length
            rest.Slice(0, n).CopyTo span
            output.Advance n
            rest <- rest.Slice n

    let private writeBulk (output: IBufferWriter<byte>) (data: byte[]) : unit =
        if data.Length <= InlinePayload then
            let span = output.GetSpan(HeaderRoom + data.Length + 2)
            let h = writeHeaderInto (span, '$'B, int64 data.Length)
            data.AsSpan().CopyTo(span.Slice h)
            span[h + data.Length] <- '\r'B
            span[h + data.Length + 1] <- '\n'B
            output.Advance(h + data.Length + 2)
        else
            writeHeader output '$'B (int64 data.Length)
            writeRaw (output, ReadOnlySpan<byte>(data))
            writeRaw (output, ReadOnlySpan<byte>(crlf))

    /// Status and error lines: CR and LF become spaces, as Redis does for error texts, because one stray
    /// newline would desynchronize the client's parser for the rest of the connection.
    let private writeLine (output: IBufferWriter<byte>) (prefix: byte) (text: string) : unit =
        let text = if isNull text then "" else text
        let enc = Bytes.textEncoding text
        let size = enc.GetByteCount text
        let span = output.GetSpan(size + 3)
        span[0] <- prefix
        let written = enc.GetBytes(text.AsSpan(), span.Slice 1)

        for i in 1..written do
            if span[i] = '\r'B || span[i] = '\n'B then
                span[i] <- ' 'B

        span[written + 1] <- '\r'B
        span[written + 2] <- '\n'B
        output.Advance(written + 3)

    // Null payloads can only come from C# callers; sending them as RESP nulls keeps the stream well-formed.
    let rec write (output: IBufferWriter<byte>) (reply: Reply) : unit =
        match reply with
        // The most frequent reply of all, sent without encoding its text each time.
        | Reply.Simple "OK" -> writeRaw (output, ReadOnlySpan<byte>(ok))
        | Reply.Simple text -> writeLine output '+'B text
        | Reply.Error text -> writeLine output '-'B text
        | Reply.Integer n -> writeHeader output ':'B n
        | Reply.Bulk data when isNull data -> writeRaw (output, ReadOnlySpan<byte>(nilBulk))
        | Reply.Bulk data -> writeBulk output data
        | Reply.Nil -> writeRaw (output, ReadOnlySpan<byte>(nilBulk))
        | Reply.Array items when isNull items -> writeRaw (output, ReadOnlySpan<byte>(nilArray))
        | Reply.Array items ->
            writeHeader output '*'B (int64 items.Length)

            for item in items do
                write output item
        | Reply.NilArray -> writeRaw (output, ReadOnlySpan<byte>(nilArray))

    /// Decimal digits of a non-negative length.
    let private digits (n: int) =
        let mutable d = 1
        let mutable rest = n

        while rest >= 10 do
            rest <- rest / 10
            d <- d + 1

        d

    /// `$<length>\r\n<arg>\r\n` at the start of `span`, which has room for it; the bytes written.
    let private writeBulkInto (span: Span<byte>) (arg: byte[]) : int =
        let at = writeHeaderInto (span, '$'B, int64 arg.Length)
        arg.AsSpan().CopyTo(span.Slice at)
        span[at + arg.Length] <- '\r'B
        span[at + arg.Length + 1] <- '\n'B
        at + arg.Length + 2

    /// A client request as an array of bulk strings: how commands are written to an AOF. A command of
    /// small arguments (nearly every logged write) goes out through one span.
    let writeCommand (output: IBufferWriter<byte>) (args: byte[][]) : unit =
        let mutable size = 3 + digits args.Length
        let mutable small = args.Length <= 64

        if small then
            for arg in args do
                size <- size + 5 + digits arg.Length + arg.Length
                if arg.Length > InlinePayload then small <- false

        if small then
            let span = output.GetSpan size
            let mutable at = writeHeaderInto (span, '*'B, int64 args.Length)

            for arg in args do
                at <- at + writeBulkInto (span.Slice at) arg

            output.Advance at
        else
            writeHeader output '*'B (int64 args.Length)

            for arg in args do
                writeBulk output arg

    /// The same bytes as writeCommand for a command of three arguments, with no array to hold them: a
    /// rewrite writes every string key through here.
    let writeCommand3 (output: IBufferWriter<byte>) (a: byte[]) (b: byte[]) (c: byte[]) : unit =
        if a.Length > InlinePayload || b.Length > InlinePayload || c.Length > InlinePayload then
            writeHeader output '*'B 3L
            writeBulk output a
            writeBulk output b
            writeBulk output c
        else
            let bulk (arg: byte[]) = 5 + digits arg.Length + arg.Length
            let span = output.GetSpan(4 + bulk a + bulk b + bulk c)
            let mutable at = writeHeaderInto (span, '*'B, 3L)
            at <- at + writeBulkInto (span.Slice at) a
            at <- at + writeBulkInto (span.Slice at) b
            at <- at + writeBulkInto (span.Slice at) c
            output.Advance at

/// Whole-buffer conveniences for tests and tools; the server writes into its connection buffers instead.
module Resp =
    let encode (reply: Reply) : byte[] =
        let buffer = ArrayBufferWriter<byte>()
        RespWriter.write buffer reply
        buffer.WrittenSpan.ToArray()

    let encodeCommand (args: byte[][]) : byte[] =
        let buffer = ArrayBufferWriter<byte>()
        RespWriter.writeCommand buffer args
        buffer.WrittenSpan.ToArray()
