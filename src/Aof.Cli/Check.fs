namespace Aof.Cli

open System
open System.Text
open Aof.Core

/// Random access to the bytes being checked: a file for the command, an array in tests.
type IByteSource =
    abstract Length: int64
    /// Copies up to `count` bytes at `offset` into `dest` from `start`; fewer only at the end of the source.
    abstract ReadAt: offset: int64 * dest: byte[] * start: int * count: int -> int

type ArraySource(bytes: byte[]) =
    interface IByteSource with
        member _.Length = int64 bytes.Length

        member _.ReadAt(offset, dest, start, count) =
            if offset >= int64 bytes.Length then
                0
            else
                let n = min count (bytes.Length - int offset)
                Buffer.BlockCopy(bytes, int offset, dest, start, n)
                n

/// Why a check stopped, in the terms redis-check-aof 7.0 reports.
[<RequireQualifiedAccess>]
type CheckFailure =
    /// A number or a bulk string was not followed by CRLF: the two bytes found instead.
    | ExpectedCrlf of byte * byte
    /// A line did not start with `*` / `$`.
    | ExpectedPrefix of expected: byte * got: byte
    /// A bulk string (with its CRLF) runs past the end of the file.
    | ShortRead of expected: int64 * got: int64
    /// A negative (or absurd) bulk length.
    | LengthOutOfRange of int64
    /// MULTI inside a MULTI; the path is the file's as redis-check-aof names it.
    | UnexpectedMulti of path: string
    /// EXEC without MULTI.
    | UnexpectedExec of path: string
    /// The file ends inside a transaction.
    | EofInMulti
    /// Bytes redis-check-aof would read but our reader refuses (it is stricter); the reader's reason.
    | Stricter of reason: string

/// `Offset` is where the failing read started (redis-check-aof's `0x...:` prefix).
type CheckError = { Offset: int64; Failure: CheckFailure }

/// What redis-check-aof carries from one file of a multi-part AOF to the next.
type Carry =
    { /// Its line counter (1 at the start of the first file).
      Line: int64
      /// The buffer it reads every `*` line into (as C's fgets leaves it: the line, a NUL, then whatever
      /// earlier and longer lines left behind). An error on a torn `*` line shows two of these bytes, so
      /// they are modelled to print the same error text.
      ArgcLine: byte[] }

    static member Start = { Line = 1L; ArgcLine = Array.zeroCreate 130 }

/// The verdict on one AOF file. `OkUpTo` is the length of the longest prefix that loads (whole commands,
/// whole transactions); `Diff` what lies beyond it. `OkUpToLine` is redis-check-aof's line counter when it
/// stopped: it counts the CRLFs of RESP lines (not annotations) and carries on from file to file.
type Analysis =
    { Size: int64
      OkUpTo: int64
      OkUpToLine: int64
      Diff: int64
      /// A byte that starts neither a command (`*`) nor an annotation (`#`) at `OkUpTo`..: redis-check-aof's
      /// "format error" (it then reports no error line).
      FormatError: bool
      Error: CheckError option
      /// The file ends inside a MULTI that no EXEC closes.
      OpenMulti: bool
      /// With a timestamp to truncate to: where the first `#TS:` annotation later than it starts (the
      /// reading stopped there), or an annotation whose time does not read (`TimestampError`).
      Cut: int64 voption
      TimestampError: bool
      /// For the next file of a multi-part AOF.
      Next: Carry }

    member a.Valid = a.Diff = 0L

/// How redis-check-aof decides what it was given.
[<RequireQualifiedAccess>]
type InputKind =
    | Manifest
    | RdbPreamble
    | Resp

type ManifestError =
    { Message: string
      /// The 1-based line (comments count) and its trimmed text, when Redis shows them.
      Line: (int * byte[]) option }

/// A window over a source, refilled in chunks: reading a large file never holds more than the command at
/// hand (and a chunk) in memory.
type internal Window(src: IByteSource) =
    let mutable buf: byte[] = Array.zeroCreate (int (min 65536L (max 16L src.Length)))
    let mutable start = 0L
    let mutable len = 0

    member _.Buffer = buf
    member _.Start = start
    member _.End = start + int64 len
    member w.AtEnd = w.End >= src.Length
    member _.Index(off: int64) = int (off - start)
    member w.Span(off: int64) = ReadOnlySpan<byte>(buf, w.Index off, int (w.End - off))

    /// Makes the window hold `need` bytes from `off` (fewer at the end of the source).
    member w.Ensure(off: int64, need: int) =
        if off + int64 need > w.End && not w.AtEnd then
            let keep = if off < w.End && off >= start then int (w.End - off) else 0

            if need > buf.Length then
                let bigger = Array.zeroCreate (max need (min Array.MaxLength (2 * buf.Length)))
                Buffer.BlockCopy(buf, (if keep > 0 then w.Index off else 0), bigger, 0, keep)
                buf <- bigger
            elif keep > 0 then
                Buffer.BlockCopy(buf, w.Index off, buf, 0, keep)

            start <- off
            len <- keep
            let mutable more = true

            while more && len < buf.Length do
                let n = src.ReadAt(start + int64 len, buf, len, buf.Length - len)
                if n <= 0 then more <- false else len <- len + n

/// redis-check-aof's reading state: where it is, its line counter, where its last read began (what an error
/// line shows), the MULTI depth, and the first error.
type internal Reading =
    { mutable Pos: int64
      mutable Line: int64
      mutable Epos: int64
      mutable Multi: int
      mutable Error: CheckError option
      ArgcLine: byte[] }

/// Reads one `*` element the way redis-check-aof 7.0 does (a 127-byte line read, strtol, a CRLF test, a
/// read of length+2 bytes), to report what it reports where our reader refuses the bytes. Only used off the
/// fast path, so it favours plainness over speed.
module internal RedisReading =
    let private isSpace (b: byte) = b = ' 'B || (b >= 9uy && b <= 13uy)
    let private isDigit (b: byte) = b >= '0'B && b <= '9'B

    /// strtol(base 10) over a NUL-terminated buffer from `i0`: the value (clamped on overflow), where it
    /// stopped (`i0` when there were no digits) and whether it overflowed (strtol's ERANGE).
    let strtol (buf: byte[]) (i0: int) : struct (int64 * int * bool) =
        let mutable i = i0

        while isSpace buf[i] do
            i <- i + 1

        let negative = buf[i] = '-'B
        if buf[i] = '-'B || buf[i] = '+'B then i <- i + 1
        let digits = i
        let limit = if negative then 9223372036854775808UL else 9223372036854775807UL
        let mutable magnitude = 0UL
        let mutable overflow = false

        while isDigit buf[i] do
            let d = uint64 (buf[i] - '0'B)
            if overflow || magnitude > (limit - d) / 10UL then overflow <- true
            else magnitude <- magnitude * 10UL + d
            i <- i + 1

        if i = digits then struct (0L, i0, false)
        elif overflow then struct ((if negative then Int64.MinValue else Int64.MaxValue), i, true)
        elif negative then struct ((if magnitude = limit then Int64.MinValue else -(int64 magnitude)), i, false)
        else struct (int64 magnitude, i, false)

    let private fail (st: Reading) (f: CheckFailure) =
        st.Error <- Some { Offset = st.Epos; Failure = f }

    /// `<prefix><number>\r\n`; ValueNone at the end of the file (no error) or on an error (set).
    let readLong (src: IByteSource) (st: Reading) (prefix: byte) : int64 voption =
        st.Epos <- st.Pos
        // The line as fgets leaves it in a 128-byte buffer: at most 127 bytes, through '\n', then a NUL. What
        // follows is stale: for `*` lines the rest of earlier `*` lines; `$` lines find zeros there.
        let line = Array.zeroCreate<byte> 128
        let n = src.ReadAt(st.Pos, line, 0, 127)

        if n <= 0 then
            ValueNone
        else
            let nl = Array.IndexOf(line, '\n'B, 0, n)
            let length = if nl >= 0 then nl + 1 else n
            let buf = if prefix = '*'B then st.ArgcLine else Array.zeroCreate<byte> 130
            Buffer.BlockCopy(line, 0, buf, 0, length)
            buf[length] <- 0uy
            st.Pos <- st.Pos + int64 length

            if buf[0] <> prefix then
                fail st (CheckFailure.ExpectedPrefix(prefix, buf[0]))
                ValueNone
            else
                let struct (value, stop, _) = strtol buf 1

                if buf[stop] = '\r'B && buf[stop + 1] = '\n'B then
                    st.Line <- st.Line + 1L
                    ValueSome value
                else
                    fail st (CheckFailure.ExpectedCrlf(buf[stop], buf[stop + 1]))
                    ValueNone

    /// A bulk string: where its data starts and its length.
    let readString (src: IByteSource) (st: Reading) : struct (int64 * int64) voption =
        match readLong src st '$'B with
        | ValueNone -> ValueNone
        | ValueSome length when length < 0L || length > Int64.MaxValue - 2L ->
            fail st (CheckFailure.LengthOutOfRange length)
            ValueNone
        | ValueSome length ->
            let count = length + 2L
            st.Epos <- st.Pos
            let available = max 0L (src.Length - st.Pos)

            if available < count then
                fail st (CheckFailure.ShortRead(count, available))
                ValueNone
            else
                let data = st.Pos
                let crlf = Array.zeroCreate<byte> 2
                src.ReadAt(data + length, crlf, 0, 2) |> ignore
                st.Pos <- data + count

                if crlf[0] = '\r'B && crlf[1] = '\n'B then
                    st.Line <- st.Line + 1L
                    ValueSome(struct (data, length))
                else
                    fail st (CheckFailure.ExpectedCrlf(crlf[0], crlf[1]))
                    ValueNone

    /// The first argument as Redis compares it: a C string, so it ends at the first NUL.
    let commandName (head: ReadOnlySpan<byte>) =
        let nul = head.IndexOf 0uy
        if nul >= 0 then head.Slice(0, nul) else head

    let private is (word: string) (name: ReadOnlySpan<byte>) =
        name.Length = word.Length && Ascii.EqualsIgnoreCase(name, word)

    let isMulti (name: ReadOnlySpan<byte>) = is "multi" name
    let isExec (name: ReadOnlySpan<byte>) = is "exec" name

    /// One `*` element from `st.Pos`; false when it stopped (`st.Error` says why, or nothing at EOF).
    let processCommand (src: IByteSource) (path: string) (st: Reading) : bool =
        match readLong src st '*'B with
        | ValueNone -> false
        | ValueSome argc ->
            let mutable ok = true
            let mutable i = 0L

            while ok && i < argc do
                match readString src st with
                | ValueNone -> ok <- false
                | ValueSome(struct (data, length)) ->
                    if i = 0L then
                        let head = Array.zeroCreate<byte> (int (min length 6L))
                        src.ReadAt(data, head, 0, head.Length) |> ignore
                        let name = commandName (ReadOnlySpan head)

                        if isMulti name then
                            st.Multi <- st.Multi + 1

                            if st.Multi <> 1 then
                                fail st (CheckFailure.UnexpectedMulti path)
                                ok <- false
                        elif isExec name then
                            st.Multi <- st.Multi - 1

                            if st.Multi <> 0 then
                                fail st (CheckFailure.UnexpectedExec path)
                                ok <- false

                    i <- i + 1L

            ok

module Check =
    /// redis-check-aof reads an annotation line into a 1 KiB buffer: at most this many bytes at a time.
    let annotationMax = 1023

    /// redis-check-aof reads manifest lines into a buffer of this many bytes (plus the NUL).
    let manifestPiece = 1024

    let private tooLong = "The AOF manifest file contains too long line"
    let private empty = "Found an empty AOF manifest"

    /// The time of a `#TS:` annotation read as redis-check-aof reads it (strtol, then a `\r` right after the
    /// number: `#TS:` alone is 0, `#TS: +5` is 5, an overflow or anything else after the digits is not a
    /// time). `line` is the annotation as read, at most annotationMax bytes; ValueNone when it is not a time.
    let timestampOf (line: ReadOnlySpan<byte>) : int64 voption =
        // NUL-terminated, as strtol reads it, with room for the two bytes looked at after the number.
        let buf = Array.zeroCreate<byte> (line.Length + 2)
        line.CopyTo(Span buf)
        let struct (value, stop, overflow) = RedisReading.strtol buf 4
        if overflow || buf[stop] <> '\r'B then ValueNone else ValueSome value

    /// Checks one AOF file as redis-check-aof 7.0 does. `firstLine` is its line counter so far (1 for the
    /// first file); `path` is how the file is named in MULTI/EXEC errors. The commands themselves are read by
    /// Aof.Core's AofReader; only where it refuses bytes is redis-check-aof's own reading replayed, for its
    /// error text, offsets and line count. With `truncateTo`, reading stops at the first `#TS:` annotation
    /// later than it (`--truncate-to-timestamp`).
    let analyseUntil (src: IByteSource) (carry: Carry) (path: string) (truncateTo: int64 voption) : Analysis =
        let size = src.Length
        let w = Window src

        let st =
            { Pos = 0L
              Line = carry.Line
              Epos = 0L
              Multi = 0
              Error = None
              ArgcLine = Array.copy carry.ArgcLine }

        let mutable off = 0L
        let mutable okUpTo = 0L
        let mutable stop = false
        let mutable atEof = false
        let mutable formatError = false
        let mutable cut = ValueNone
        let mutable timestampError = false

        while not stop do
            if st.Multi = 0 then okUpTo <- off

            if off >= size then
                atEof <- true
                stop <- true
            else
                w.Ensure(off, 1)
                let first = w.Buffer[w.Index off]

                if first = '#'B then
                    // Annotations (`#TS:...`) are skipped a buffer-full at a time, newline or not.
                    w.Ensure(off, annotationMax)
                    let n = int (min (int64 annotationMax) (size - off))
                    let nl = Array.IndexOf(w.Buffer, '\n'B, w.Index off, n)
                    let piece = ReadOnlySpan(w.Buffer, w.Index off, (if nl >= 0 then nl - w.Index off + 1 else n))

                    let time =
                        match truncateTo with
                        | ValueSome _ when piece.StartsWith "#TS:"B -> ValueSome(timestampOf piece)
                        | _ -> ValueNone

                    match truncateTo, time with
                    | _, ValueSome ValueNone ->
                        timestampError <- true
                        stop <- true
                    | ValueSome limit, ValueSome(ValueSome t) when t > limit ->
                        cut <- ValueSome off
                        stop <- true
                    | _ ->
                        st.Epos <- off
                        off <- if nl >= 0 then w.Start + int64 nl + 1L else off + int64 n
                elif first <> '*'B then
                    formatError <- true
                    stop <- true
                else
                    let mutable decided = false

                    while not decided do
                        let mutable consumed = 0
                        let mutable args: byte[][] = null
                        let mutable error: string = null
                        let read = AofReader.TryRead(w.Span off, &consumed, &args, &error)

                        if read = AofRead.Incomplete && not w.AtEnd then
                            let have = int (w.End - off)
                            w.Ensure(off, int (min (int64 Array.MaxLength) (max 65536L (2L * int64 have))))
                        else
                            decided <- true

                            let name =
                                if read = AofRead.Command then RedisReading.commandName (ReadOnlySpan args[0])
                                else ReadOnlySpan.Empty

                            let multi = read = AofRead.Command && RedisReading.isMulti name
                            let exec = read = AofRead.Command && RedisReading.isExec name

                            if read = AofRead.Command && not (multi && st.Multi <> 0) && not (exec && st.Multi <> 1) then
                                if multi then st.Multi <- 1
                                elif exec then st.Multi <- 0
                                let start = w.Index off
                                let header = Array.IndexOf(w.Buffer, '\n'B, start, consumed) - start + 1
                                Buffer.BlockCopy(w.Buffer, start, st.ArgcLine, 0, header)
                                st.ArgcLine[header] <- 0uy
                                st.Line <- st.Line + 1L + 2L * int64 args.Length
                                st.Epos <- off + int64 consumed - 2L - int64 args[args.Length - 1].Length
                                off <- off + int64 consumed
                            else
                                // Torn, damaged or out of place: replay redis-check-aof's reading of it.
                                let line, epos, multiBefore = st.Line, st.Epos, st.Multi
                                st.Pos <- off

                                if RedisReading.processCommand src path st then
                                    // Redis reads these bytes; our reader does not (e.g. `*0`, `+5`, `007`).
                                    st.Line <- line
                                    st.Epos <- epos
                                    st.Multi <- multiBefore

                                    let reason =
                                        if isNull error then "incomplete command at the end of the file" else error

                                    st.Error <- Some { Offset = off; Failure = CheckFailure.Stricter reason }
                                elif st.Error.IsNone then
                                    // Its read ran into the end of the file without complaint.
                                    atEof <- true

                                stop <- true

        if atEof && st.Multi > 0 && st.Error.IsNone then
            st.Error <- Some { Offset = st.Epos; Failure = CheckFailure.EofInMulti }

        { Size = size
          OkUpTo = okUpTo
          OkUpToLine = st.Line
          Diff = size - okUpTo
          FormatError = formatError
          Error = st.Error
          OpenMulti =
            match st.Error with
            | Some { Failure = CheckFailure.EofInMulti } -> true
            | _ -> false
          Cut = cut
          TimestampError = timestampError
          Next = { Line = st.Line; ArgcLine = st.ArgcLine } }

    /// Checks one AOF file as redis-check-aof 7.0 does (see analyseUntil).
    let analyse (src: IByteSource) (carry: Carry) (path: string) : Analysis = analyseUntil src carry path ValueNone

    let analyseBytes (bytes: byte[]) : Analysis = analyse (ArraySource bytes) Carry.Start "aof"

    /// redis-check-aof takes a file for a manifest when any of its lines (read 1 KiB at a time) starts with
    /// "file", wherever it is: even an AOF holding the value "filename" on a line of its own.
    let looksLikeManifest (src: IByteSource) : bool =
        let size = src.Length
        let w = Window src
        let mutable off = 0L
        let mutable found = false

        while not found && off < size do
            w.Ensure(off, manifestPiece)
            let n = int (min (int64 manifestPiece) (size - off))
            let i = w.Index off
            let b = w.Buffer
            found <- n >= 4 && b[i] = 'f'B && b[i + 1] = 'i'B && b[i + 2] = 'l'B && b[i + 3] = 'e'B
            let nl = Array.IndexOf(b, '\n'B, i, n)
            off <- if nl >= 0 then w.Start + int64 nl + 1L else off + int64 n

        found

    /// An RDB preamble: "REDIS" at the start of a file of at least 8 bytes (what redis-check-aof requires).
    let hasRdbPreamble (src: IByteSource) : bool =
        src.Length >= 8L
        && (let head = Array.zeroCreate<byte> 5
            src.ReadAt(0L, head, 0, 5) = 5 && Encoding.ASCII.GetString head = "REDIS")

    let detect (src: IByteSource) : InputKind =
        if looksLikeManifest src then InputKind.Manifest
        elif hasRdbPreamble src then InputKind.RdbPreamble
        else InputKind.Resp

    let private trim (b: byte[]) =
        let ws (x: byte) = x = ' 'B || x = '\t'B || x = '\r'B || x = '\n'B
        let mutable s = 0
        let mutable e = b.Length
        while s < e && ws b[s] do s <- s + 1
        while e > s && ws b[e - 1] do e <- e - 1
        b[s .. e - 1]

    /// Reads a manifest with Aof.Core's parser; on an error, finds the line Redis would show with it (the
    /// parser stops at its first bad line, so the shortest failing prefix of lines ends with it).
    let loadManifest (bytes: byte[]) : Result<Manifest, ManifestError> =
        match Manifest.parse bytes with
        | Ok m -> Ok m
        | Error msg when msg = tooLong || msg = empty -> Error { Message = msg; Line = None }
        | Error msg ->
            let ends =
                [| for i in 0 .. bytes.Length - 1 do
                       if bytes[i] = '\n'B then i + 1
                   if bytes.Length > 0 && bytes[bytes.Length - 1] <> '\n'B then bytes.Length |]

            let fails k =
                match Manifest.parse bytes[0 .. ends[k - 1] - 1] with
                | Error m -> m <> empty
                | Ok _ -> false

            // Smallest k in [1, ends.Length] whose prefix fails; the whole file does.
            let mutable lo = 1
            let mutable hi = ends.Length

            while lo < hi do
                let mid = (lo + hi) / 2
                if fails mid then hi <- mid else lo <- mid + 1

            let from = if lo = 1 then 0 else ends[lo - 2]
            let text = trim bytes[from .. ends[lo - 1] - 1]
            Error { Message = msg; Line = Some(lo, text) }

    let private ascii (s: string) = Encoding.ASCII.GetBytes s

    /// `%02x` of a C `char`: bytes from 0x80 are negative and print sign-extended.
    let private hex (b: byte) =
        if b >= 0x80uy then sprintf "ffffff%02x" b else sprintf "%02x" b

    let failureText (f: CheckFailure) : byte[] =
        match f with
        | CheckFailure.ExpectedCrlf(a, b) -> ascii (sprintf "Expected \\r\\n, got: %s%s" (hex a) (hex b))
        | CheckFailure.ExpectedPrefix(e, g) ->
            Array.concat [ ascii "Expected prefix '"; [| e |]; ascii "', got: '"; [| g |]; ascii "'" ]
        | CheckFailure.ShortRead(e, g) -> ascii (sprintf "Expected to read %d bytes, got %d bytes" e g)
        | CheckFailure.LengthOutOfRange n ->
            ascii (sprintf "Expected to read string of %d bytes, which is not in the suitable range" n)
        | CheckFailure.UnexpectedMulti p -> Array.append (ascii "Unexpected MULTI in AOF ") (Encoding.UTF8.GetBytes p)
        | CheckFailure.UnexpectedExec p -> Array.append (ascii "Unexpected EXEC in AOF ") (Encoding.UTF8.GetBytes p)
        | CheckFailure.EofInMulti -> ascii "Reached EOF before reading EXEC for MULTI"
        | CheckFailure.Stricter reason -> Encoding.UTF8.GetBytes("Rejected by aof, whose reader is stricter than redis-check-aof: " + reason)

    /// The error line as redis-check-aof prints it: the offset in a 16-wide hex field, then the message,
    /// which (a C string in a 1 KiB buffer) stops at a NUL byte and at 1023 bytes.
    let errorLine (e: CheckError) : byte[] =
        let text = failureText e.Failure
        let nul = Array.IndexOf(text, 0uy)
        let cut = min 1023 (if nul >= 0 then nul else text.Length)
        Array.append (ascii (sprintf "0x%16x: " e.Offset)) text[.. cut - 1]
