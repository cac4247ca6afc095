module Aof.Core.Tests.RespTests

// Expected protocol error strings and quirks were observed on redis-server 7.0.15 (raw bytes over a socket).

open System
open System.Buffers
open System.Text
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core

let private b (s: string) : byte[] = Encoding.Latin1.GetBytes s
let private show (a: byte[]) = Encoding.Latin1.GetString a

type private Outcome =
    | Cmd of string list * int
    | Skip of int
    | Error of string
    | Incomplete

let private readWith (limits: RespLimits) (input: byte[]) : Outcome =
    let mutable consumed = 0
    let mutable args = null
    let mutable error = null

    match RespReader.TryRead(ReadOnlySpan<byte>(input), limits, &consumed, &args, &error) with
    | ReadStatus.Command -> Cmd(args |> Array.map show |> List.ofArray, consumed)
    | ReadStatus.Skipped -> Skip consumed
    | ReadStatus.ProtocolError -> Error error
    | _ ->
        Assert.Equal(0, consumed)
        Incomplete

let private read (input: string) = readWith RespLimits.Default (b input)

let private check (n: int) (prop: Property) =
    Check.One(Config.QuickThrowOnFailure.WithMaxTest n, prop)

// ---------------------------------------------------------------- generators

let private genByte = Gen.choose (0, 255) |> Gen.map byte

/// Arguments that stress framing: protocol punctuation, CR/LF, NUL and arbitrary binary.
let private genArg: Gen<byte[]> =
    let tricky = Gen.elements [ '\r'B; '\n'B; '*'B; '$'B; '0'B; '-'B; ' 'B; '"'B; '\''B; '\\'B; 0uy; 'a'B ]

    Gen.frequency
        [ 1, Gen.constant [||]
          4, Gen.arrayOf genByte
          4, Gen.arrayOf tricky
          1, Gen.choose (4000, 5000) |> Gen.map (fun n -> Array.init n byte) ]

let private genCommand: Gen<byte[][]> =
    Gen.choose (1, 6) |> Gen.bind (fun n -> Gen.arrayOfLength n genArg)

let private isBlank (c: byte) = c = ' 'B || (c >= 9uy && c <= 13uy)

/// An inline rendering Redis's splitter reads back as exactly `args`: bare when the bytes allow it,
/// otherwise double-quoted with every unsafe byte as \xHH, or single-quoted for plain text.
let private genInlineArg (arg: byte[]) : Gen<string> =
    let bareOk =
        arg.Length > 0
        && arg |> Array.forall (fun c -> not (isBlank c) && c <> 0uy && c <> '"'B && c <> '\''B)

    let printable = arg |> Array.forall (fun c -> c >= 32uy && c < 127uy && c <> '\\'B)

    let doubleQuoted =
        let sb = StringBuilder("\"")

        for c in arg do
            if c = '"'B then sb.Append("\\\"") |> ignore
            elif c = '\\'B then sb.Append("\\\\") |> ignore
            elif c >= 32uy && c < 127uy then sb.Append(char c) |> ignore
            elif c = '\n'B then sb.Append("\\n") |> ignore
            else sb.AppendFormat("\\x{0:x2}", c) |> ignore

        sb.Append('"').ToString()

    let singleQuoted = "'" + (show arg).Replace("'", "\\'") + "'"

    Gen.elements
        [ yield doubleQuoted
          if bareOk then yield show arg
          if printable then yield singleQuoted ]

let private genSeparator = Gen.elements [ " "; "  "; "\t"; " \t " ]

/// One request as wire text plus the command it must read back as (None for what Redis skips).
let private genRequest: Gen<string * byte[][] option> =
    let multibulk = genCommand |> Gen.map (fun args -> show (Resp.encodeCommand args), Some args)

    let inlineCmd =
        gen {
            // Short arguments: Redis (and the reader) refuse an inline line that grows past 64 KiB.
            let! args = Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.arrayOfLength n (genArg |> Gen.map (Array.truncate 200)))
            let! parts = args |> Array.map genInlineArg |> Gen.sequenceToArray
            let! seps = Gen.arrayOfLength parts.Length genSeparator
            let! lead = Gen.elements [ ""; " "; "\t" ]
            let! ending = Gen.elements [ "\r\n"; "\n" ]
            let line = lead + String.Join("", Array.map2 (fun s p -> p + s) seps parts).TrimEnd(' ', '\t')
            // A leading '*' would make it a multibulk request.
            let line = if line.StartsWith "*" then " " + line else line
            return line + ending, Some args
        }

    let skipped = Gen.elements [ "\r\n"; "\n"; "   \r\n"; "*0\r\n"; "*-1\r\n" ] |> Gen.map (fun s -> s, None)

    Gen.frequency [ 5, multibulk; 3, inlineCmd; 1, skipped ]

// ---------------------------------------------------------------- properties

/// Whether `args`, written with writeCommand and followed by `after`, read back as exactly `args`,
/// consuming their bytes and nothing of what follows.
let private readsBackWhole (after: byte[]) (args: byte[][]) =
    let command = Resp.encodeCommand args
    let wire = Array.append command after
    let mutable consumed = 0
    let mutable read = null
    let mutable error = null
    let status = RespReader.TryRead(ReadOnlySpan<byte>(wire), RespLimits.Default, &consumed, &read, &error)

    status = ReadStatus.Command
    && consumed = command.Length
    && read.Length = args.Length
    && Array.forall2 Bytes.equal read args

[<Fact>]
let ``any command written with writeCommand reads back whole, consuming exactly its bytes`` () =
    check 300 (Prop.forAll (Arb.fromGen genCommand) (readsBackWhole [||]))

[<Fact>]
let ``commands with many arguments read back whole, past the positions the reader remembers`` () =
    // The reader copies the first 64 arguments from positions it noted while validating and finds the
    // rest again; the writer takes a slower path past 64 arguments too.
    let many = Gen.choose (60, 200) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.arrayOf genByte))
    check 100 (Prop.forAll (Arb.fromGen many) (readsBackWhole (Resp.encodeCommand [| "PING"B |])))

[<Fact>]
let ``writeCommand3 writes the bytes writeCommand writes, small arguments or past the inline size`` () =
    let arg = Gen.oneof [ Gen.arrayOf genByte; Gen.choose (4090, 4200) |> Gen.map (fun n -> Array.create n 'x'B) ]

    let prop =
        Prop.forAll (Arb.fromGen (Gen.three arg)) (fun (a, b, c) ->
            let viaArray = ArrayBufferWriter<byte>()
            let direct = ArrayBufferWriter<byte>()
            RespWriter.writeCommand viaArray [| a; b; c |]
            RespWriter.writeCommand3 direct a b c
            viaArray.WrittenSpan.SequenceEqual(direct.WrittenSpan))

    check 300 prop

[<Fact>]
let ``every strict prefix of a command is incomplete and consumes nothing`` () =
    let prop =
        Prop.forAll (Arb.fromGen (genCommand |> Gen.map (Array.map (Array.truncate 40)))) (fun args ->
            let wire = Resp.encodeCommand args

            [ 0 .. wire.Length - 1 ]
            |> List.forall (fun n -> readWith RespLimits.Default wire[.. n - 1] = Incomplete))

    check 100 prop

/// The server's loop: append each arriving chunk to what is left over, then read as many commands as
/// the bytes allow.
let private readChunked (wire: byte[]) (chunkSizes: int list) : byte[][] list =
    let pending = ResizeArray<byte>()
    let commands = ResizeArray<byte[][]>()
    let mutable offset = 0
    let mutable sizes = chunkSizes

    while offset < wire.Length do
        let size =
            match sizes with
            | s :: rest ->
                sizes <- rest @ [ s ]
                min s (wire.Length - offset)
            | [] -> wire.Length - offset

        pending.AddRange(ArraySegment<byte>(wire, offset, size))
        offset <- offset + size
        let mutable reading = true

        while reading do
            let buffer = pending.ToArray()
            let mutable consumed = 0
            let mutable args = null
            let mutable error = null

            match RespReader.TryRead(ReadOnlySpan<byte>(buffer), RespLimits.Default, &consumed, &args, &error) with
            | ReadStatus.Command ->
                commands.Add args
                pending.RemoveRange(0, consumed)
            | ReadStatus.Skipped -> pending.RemoveRange(0, consumed)
            | ReadStatus.ProtocolError -> failwithf "protocol error: %s" error
            | _ -> reading <- false

    Assert.Empty pending
    List.ofSeq commands

[<Fact>]
let ``pipelined multibulk and inline commands read the same in any chunking`` () =
    let genCase =
        Gen.zip (Gen.listOf genRequest |> Gen.resize 12) (Gen.nonEmptyListOf (Gen.choose (1, 64)) |> Gen.resize 6)

    let prop =
        Prop.forAll (Arb.fromGen genCase) (fun (requests, chunks) ->
            let wire = requests |> List.map fst |> String.concat "" |> b
            let expected = requests |> List.choose snd
            let actual = readChunked wire chunks

            actual.Length = expected.Length
            && List.forall2 (fun (x: byte[][]) (y: byte[][]) -> x.Length = y.Length && Array.forall2 Bytes.equal x y) actual expected)

    check 150 prop

// ---------------------------------------------------------------- multibulk examples

[<Fact>]
let ``a multibulk command is read with its exact length`` () =
    Assert.Equal(Cmd([ "SET"; "k"; "" ], 26), read "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")

[<Fact>]
let ``a following command is left for the next read`` () =
    Assert.Equal(Cmd([ "PING" ], 14), read "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI")

[<Fact>]
let ``payload bytes that look like protocol are data`` () =
    Assert.Equal(Cmd([ "a\r\n*1\r\n$" ], 18), read "*1\r\n$8\r\na\r\n*1\r\n$\r\n")

[<Fact>]
let ``zero and negative multibulk counts are skipped silently`` () =
    Assert.Equal(Skip 4, read "*0\r\nPING\r\n")
    Assert.Equal(Skip 5, read "*-1\r\nPING\r\n")
    Assert.Equal(Skip 5, read "*-5\r\n")

[<Fact>]
let ``like Redis, the byte after a header CR and the two bytes after a payload are not checked`` () =
    Assert.Equal(Cmd([ "PING" ], 14), read "*1\rX$4\r\nPING\r\n")
    Assert.Equal(Cmd([ "PING" ], 14), read "*1\r\n$4\rXPINGxy")

[<Fact>]
let ``a header CR without the byte after it is incomplete`` () =
    Assert.Equal(Incomplete, read "*1\r")
    Assert.Equal(Incomplete, read "*1\r\n$4\r")
    Assert.Equal(Incomplete, read "*1\r\nfoo")

[<Fact>]
let ``a multibulk count up to 1,048,576 waits for its elements and one more is refused`` () =
    Assert.Equal(Incomplete, read "*1048576\r\n")
    Assert.Equal(Error "Protocol error: invalid multibulk length", read "*1048577\r\n")

[<Fact>]
let ``an unauthenticated client may send at most 10 arguments of at most 16 KiB`` () =
    let limits = { RespLimits.Default with Unauthenticated = true }
    let mutable consumed = 0
    let mutable args: byte[][] = null
    let mutable error: string = null
    let status (text: string) = RespReader.TryRead(ReadOnlySpan(Text.Encoding.Latin1.GetBytes text), limits, &consumed, &args, &error)
    Assert.Equal(ReadStatus.ProtocolError, status "*11\r\n")
    Assert.Equal("Protocol error: unauthenticated multibulk length", error)
    Assert.Equal(ReadStatus.ProtocolError, status "*1\r\n$16385\r\n")
    Assert.Equal("Protocol error: unauthenticated bulk length", error)
    Assert.Equal(ReadStatus.Command, status "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n")

[<Fact>]
let ``a bulk length of proto-max-bulk-len is accepted and waits for the payload`` () =
    Assert.Equal(Incomplete, read "*1\r\n$536870912\r\n")

[<Fact>]
let ``a NUL byte hides the line end as it does from Redis's strchr, so the request waits`` () =
    Assert.Equal(Incomplete, read "*1\000\r\n$4\r\nPING\r\n")
    Assert.Equal(Incomplete, read "PING\000\r\nPING\r\n")

// ---------------------------------------------------------------- protocol errors (exact Redis 7.0 text)

let private invalidMultibulk = Error "Protocol error: invalid multibulk length"
let private invalidBulk = Error "Protocol error: invalid bulk length"

[<Fact>]
let ``non-numeric multibulk count is 'Protocol error: invalid multibulk length'`` () =
    Assert.Equal(invalidMultibulk, read "*abc\r\n")
    Assert.Equal(invalidMultibulk, read "*\r\n")

[<Fact>]
let ``leading zero, plus sign, spaces or minus zero in the count are 'invalid multibulk length'`` () =
    Assert.Equal(invalidMultibulk, read "*03\r\n$4\r\nPING\r\n")
    Assert.Equal(invalidMultibulk, read "*00\r\n")
    Assert.Equal(invalidMultibulk, read "*+1\r\n$4\r\nPING\r\n")
    Assert.Equal(invalidMultibulk, read "* 1\r\n$4\r\nPING\r\n")
    Assert.Equal(invalidMultibulk, read "*1 \r\n$4\r\nPING\r\n")
    Assert.Equal(invalidMultibulk, read "*-0\r\n")

[<Fact>]
let ``multibulk count above INT_MAX or the configured cap is 'invalid multibulk length'`` () =
    Assert.Equal(invalidMultibulk, read "*2147483648\r\n")
    Assert.Equal(invalidMultibulk, read "*99999999999999999999999\r\n")
    let capped = { RespLimits.Default with MaxMultibulkLen = 2L }
    Assert.Equal(invalidMultibulk, readWith capped (b "*3\r\n"))
    Assert.Equal(Incomplete, readWith capped (b "*2\r\n"))

[<Fact>]
let ``a bulk header not starting with dollar is 'Protocol error: expected '$', got 'X''`` () =
    Assert.Equal(Error "Protocol error: expected '$', got 'f'", read "*1\r\nfoo\r\n")
    Assert.Equal(Error "Protocol error: expected '$', got ':'", read "*2\r\n$1\r\na\r\n:1\r\n")

[<Fact>]
let ``a CR or LF where the dollar belongs is shown as a space, as Redis does`` () =
    Assert.Equal(Error "Protocol error: expected '$', got ' '", read "*1\r\n\r\n")
    Assert.Equal(Error "Protocol error: expected '$', got ' '", read "*1\r\n\n\r\n")

[<Fact>]
let ``negative, non-numeric, zero-padded or signed bulk lengths are 'Protocol error: invalid bulk length'`` () =
    Assert.Equal(invalidBulk, read "*1\r\n$-1\r\n")
    Assert.Equal(invalidBulk, read "*1\r\n$-0\r\n")
    Assert.Equal(invalidBulk, read "*1\r\n$\r\n")
    Assert.Equal(invalidBulk, read "*1\r\n$x\r\n")
    Assert.Equal(invalidBulk, read "*1\r\n$04\r\nPING\r\n")
    Assert.Equal(invalidBulk, read "*1\r\n$+4\r\nPING\r\n")

[<Fact>]
let ``a bulk length above proto-max-bulk-len is 'invalid bulk length'`` () =
    Assert.Equal(invalidBulk, read "*1\r\n$536870913\r\n")
    let small = { RespLimits.Default with MaxBulkLen = 3L }
    Assert.Equal(invalidBulk, readWith small (b "*1\r\n$4\r\nPING\r\n"))
    Assert.Equal(Cmd([ "GET" ], 13), readWith small (b "*1\r\n$3\r\nGET\r\n"))

[<Fact>]
let ``a count line over 64 KiB without CR is 'Protocol error: too big mbulk count string'`` () =
    Assert.Equal(Error "Protocol error: too big mbulk count string", read ("*" + String('1', 65536)))
    Assert.Equal(Incomplete, read ("*" + String('1', 65535)))

[<Fact>]
let ``a bulk header over 64 KiB without CR is 'Protocol error: too big bulk count string'`` () =
    Assert.Equal(Error "Protocol error: too big bulk count string", read ("*1\r\n$" + String('1', 65536)))
    Assert.Equal(Error "Protocol error: too big bulk count string", read ("*1\r\n" + String('x', 70000)))
    Assert.Equal(Incomplete, read ("*1\r\n$" + String('1', 65535)))

[<Fact>]
let ``an over-long header that does end in CR is an invalid length, not too big`` () =
    Assert.Equal(invalidBulk, read ("*1\r\n$" + String('1', 70000) + "\r\n"))

[<Fact>]
let ``an error seen before the command is complete is reported at once`` () =
    Assert.Equal(invalidBulk, read "*3\r\n$3\r\nSET\r\n$-2\r\n")

// ---------------------------------------------------------------- inline

let private readsWhole (input: string) (args: string list) =
    Assert.Equal(Cmd(args, input.Length), read input)

[<Fact>]
let ``an inline line splits on blanks, with or without CR`` () =
    Assert.Equal(Cmd([ "SET"; "k"; "v" ], 10), read "SET  k\tv\r\n")
    Assert.Equal(Cmd([ "PING" ], 5), read "PING\nPING\n")
    Assert.Equal(Cmd([ "ECHO"; "ab" ], 10), read "ECHO ab\r\r\n")

[<Fact>]
let ``blank inline lines are skipped`` () =
    Assert.Equal(Skip 2, read "\r\nPING\r\n")
    Assert.Equal(Skip 1, read "\nPING\n")
    Assert.Equal(Skip 5, read "   \r\nPING\r\n")

[<Fact>]
let ``an inline line without its newline is incomplete`` () =
    Assert.Equal(Incomplete, read "SET k v")
    Assert.Equal(Incomplete, read "SET k v\r")

[<Fact>]
let ``double quotes take C escapes and hex bytes; unknown escapes keep the character`` () =
    Assert.Equal(
        Cmd([ "ECHO"; "aA\n\r\t\b\a\\\"qxZZ" ], 34),
        read "ECHO \"a\\x41\\n\\r\\t\\b\\a\\\\\\\"\\q\\xZZ\"\r\n"
    )

    readsWhole "ECHO \"a\\xg1\"\n" [ "ECHO"; "axg1" ]
    readsWhole "ECHO \"a\\x4\"\n" [ "ECHO"; "ax4" ]
    readsWhole "ECHO \"\\x00\\xFf\"\r\n" [ "ECHO"; "\000\255" ]

[<Fact>]
let ``single quotes only unescape a quote`` () =
    Assert.Equal(Cmd([ "ECHO"; "it's \\n" ], 17), read "ECHO 'it\\'s \\n'\r\n")

[<Fact>]
let ``quotes may start mid-argument and empty quotes are an empty argument`` () =
    Assert.Equal(Cmd([ "ECHO"; "xy z" ], 13), read "ECHO x\"y z\"\r\n")
    Assert.Equal(Cmd([ "ECHO"; "" ], 9), read "ECHO \"\"\r\n")

[<Fact>]
let ``vertical tab and form feed separate arguments only where blanks are skipped`` () =
    Assert.Equal(Cmd([ "ECHO"; "a\vb" ], 10), read "ECHO a\vb\r\n")
    Assert.Equal(Cmd([ "ECHO"; "ab" ], 11), read "\v\fECHO\tab\r\n")
    Assert.Equal(Cmd([ "ECHO"; "abc"; "x" ], 14), read "ECHO \"abc\"\vx\r\n")
    Assert.Equal(Cmd([ "ECHO"; "a"; "b" ], 9), read "ECHO a\rb\n")

let private unbalanced = Error "Protocol error: unbalanced quotes in request"

[<Fact>]
let ``an unclosed quote is 'Protocol error: unbalanced quotes in request'`` () =
    Assert.Equal(unbalanced, read "ECHO \"abc\r\n")
    Assert.Equal(unbalanced, read "ECHO 'abc\r\n")
    Assert.Equal(unbalanced, read "ECHO \"ab\\\"\r\n")
    Assert.Equal(unbalanced, read "ECHO \"a\\\"\n")

[<Fact>]
let ``a closing quote followed by a non-blank is 'unbalanced quotes in request'`` () =
    Assert.Equal(unbalanced, read "ECHO \"abc\"x\r\n")
    Assert.Equal(unbalanced, read "ECHO 'abc'x\r\n")

[<Fact>]
let ``an inline request over 64 KiB without newline is 'Protocol error: too big inline request'`` () =
    Assert.Equal(Error "Protocol error: too big inline request", read (String('A', 65537)))
    Assert.Equal(Incomplete, read (String('A', 65536)))

// ---------------------------------------------------------------- ReadAll

[<Fact>]
let ``ReadAll stops at the first protocol error, keeping the commands before it`` () =
    let batch = RespReader.ReadAll(ReadOnlySpan<byte>(b "PING\r\n\r\n*1\r\n$4\r\nPING\r\n*x\r\n"), RespLimits.Default)
    Assert.Equal(2, batch.Commands.Length)
    Assert.Equal(22, batch.Consumed)
    Assert.Equal(Some "Protocol error: invalid multibulk length", batch.Error)

[<Fact>]
let ``ReadAll leaves a trailing partial command unconsumed`` () =
    let batch = RespReader.ReadAll(ReadOnlySpan<byte>(b "PING\r\nPIN"), RespLimits.Default)
    Assert.Equal(1, batch.Commands.Length)
    Assert.Equal(6, batch.Consumed)
    Assert.Equal(None, batch.Error)

// ---------------------------------------------------------------- writer

let private encoded (reply: Reply) = show (Resp.encode reply)

[<Fact>]
let ``simple strings, errors and integers encode as RESP2 lines`` () =
    Assert.Equal("+OK\r\n", encoded Reply.ok)
    Assert.Equal("+\r\n", encoded (Reply.Simple ""))
    Assert.Equal("-ERR syntax error\r\n", encoded Reply.syntaxError)
    Assert.Equal(":0\r\n", encoded (Reply.Integer 0L))
    Assert.Equal(":-42\r\n", encoded (Reply.Integer -42L))
    Assert.Equal(":9223372036854775807\r\n", encoded (Reply.Integer Int64.MaxValue))
    Assert.Equal(":-9223372036854775808\r\n", encoded (Reply.Integer Int64.MinValue))

[<Fact>]
let ``status and error text goes out as the bytes it came from and never breaks the line`` () =
    // Text decoded from client bytes (Latin-1) is written back byte for byte, as Redis echoes raw bytes.
    Assert.Equal("+caf\u00e9\r\n", encoded (Reply.Simple "caf\u00e9"))
    // Characters past 0xFF can only come from a literal; they go out as UTF-8.
    Assert.Equal("+\u00e2\u0082\u00ac\r\n", encoded (Reply.Simple "\u20ac"))
    Assert.Equal("-ERR a  b\r\n", encoded (Reply.Error "ERR a\r\nb"))

[<Fact>]
let ``bulk strings carry their length and any bytes`` () =
    Assert.Equal("$0\r\n\r\n", encoded (Reply.Bulk [||]))
    Assert.Equal("$5\r\na\r\nb\000\r\n", encoded (Reply.Bulk(b "a\r\nb\000")))
    Assert.Equal("$-1\r\n", encoded Reply.Nil)

[<Fact>]
let ``large bulk strings are written whole`` () =
    let payload = Array.init 100_000 byte
    let wire = Resp.encode (Reply.Bulk payload)
    Assert.Equal("$100000\r\n", show wire[..8])
    Assert.True(Bytes.equal payload wire[9 .. wire.Length - 3])
    Assert.Equal("\r\n", show wire[wire.Length - 2 ..])

[<Fact>]
let ``arrays nest and null arrays are star minus one`` () =
    Assert.Equal("*0\r\n", encoded Reply.emptyArray)
    Assert.Equal("*-1\r\n", encoded Reply.NilArray)

    Assert.Equal(
        "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+OK\r\n",
        encoded (Reply.Array [| Reply.one; Reply.Array [| Reply.bulkString "a"; Reply.Nil |]; Reply.ok |])
    )

[<Fact>]
let ``writeCommand writes a RESP array of bulk strings, as an AOF stores it`` () =
    Assert.Equal("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", show (Resp.encodeCommand [| b "SET"; b "k"; [||] |]))

[<Fact>]
let ``the writer appends to what the buffer already holds`` () =
    let buffer = Buffers.ArrayBufferWriter<byte>()
    RespWriter.write buffer Reply.pong
    RespWriter.write buffer (Reply.Integer 7L)
    Assert.Equal("+PONG\r\n:7\r\n", show (buffer.WrittenSpan.ToArray()))
