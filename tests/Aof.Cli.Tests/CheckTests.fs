/// The pure checker on bytes. Expected numbers and texts were taken from redis-check-aof 7.0.15 on the
/// same bytes.
module Aof.Cli.Tests.CheckTests

open System
open System.Text
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Cli
open Aof.Cli.Tests.Support

module Checker = Aof.Cli.Check

let private analyseAs (path: string) (b: byte[]) = Checker.analyse (ArraySource b) Carry.Start path
let private analyse (b: byte[]) = Checker.analyseBytes b

let private errorText (a: Analysis) =
    a.Error |> Option.map (Checker.errorLine >> latin1) |> Option.defaultValue ""

let private law (maxTest: int) (arb: Arbitrary<'T>) (prop: 'T -> bool) =
    FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest maxTest, Prop.forAll arb prop)

let private good =
    Array.concat [ cmd [ "SELECT"; "0" ]; cmd [ "SET"; "a"; "b" ]; cmd [ "SET"; "foo"; "bar" ] ]

[<Fact>]
let ``a valid file loads whole, one line per CRLF`` () =
    let a = analyse good
    Assert.Equal(81L, a.Size)
    Assert.Equal(81L, a.OkUpTo)
    Assert.Equal(0L, a.Diff)
    Assert.Equal(20L, a.OkUpToLine)
    Assert.True(a.Valid)
    Assert.Equal(None, a.Error)
    Assert.False(a.FormatError)
    Assert.False(a.OpenMulti)

[<Fact>]
let ``an empty file is valid with nothing to read`` () =
    let a = analyse [||]
    Assert.True(a.Valid)
    Assert.Equal(0L, a.Size)

[<Fact>]
let ``every cut of the last command goes back to its start, with redis-check-aof's error texts`` () =
    // The last command is bytes 50..80.
    for cut in 51..80 do
        let a = analyse good[.. cut - 1]
        Assert.Equal(50L, a.OkUpTo)
        Assert.Equal(int64 (cut - 50), a.Diff)
        Assert.False(a.Valid)

    let at (cut: int) = analyse good[.. cut - 1]
    Assert.Equal("0x              32: Expected \\r\\n, got: 000d", errorText (at 51))
    Assert.Equal("0x              32: Expected \\r\\n, got: 000a", errorText (at 52))
    Assert.Equal("0x              32: Expected \\r\\n, got: 0d00", errorText (at 53))
    // Cut right after a complete line: redis-check-aof's read just ends, with no error text.
    Assert.Equal("", errorText (at 54))
    Assert.Equal(14L, (at 54).OkUpToLine)
    Assert.Equal("0x              3a: Expected to read 5 bytes, got 2 bytes", errorText (at 60))
    Assert.Equal("0x              4c: Expected to read 5 bytes, got 3 bytes", errorText (at 79))

[<Fact>]
let ``a torn first line shows what C's line buffer holds`` () =
    // "*2" at the very end: the byte after the NUL is still zero.
    Assert.Equal("0x               0: Expected \\r\\n, got: 0000", errorText (analyse good[..1]))
    // After "*2\r\n" has been read, a torn "*" or "*3" shows the stale bytes of that earlier line.
    Assert.Equal("0x              17: Expected \\r\\n, got: 000d", errorText (analyse good[..23]))
    Assert.Equal("0x              17: Expected \\r\\n, got: 000a", errorText (analyse good[..24]))

/// Truncation at every byte offset of random files: ok_up_to is the end of the last whole command (or
/// transaction) before the cut, never beyond it; the file is valid exactly at those ends.
[<Fact>]
let ``property: a cut anywhere loads up to the last whole command before it`` () =
    law 150 (Arb.fromGen Gens.commands) (fun pieces ->
        let file = Array.concat pieces
        let ends = boundaries pieces |> Set.ofList

        [ 0 .. file.Length ]
        |> List.forall (fun cut ->
            let a = analyse file[.. cut - 1]
            let expected = ends |> Set.filter (fun e -> e <= cut) |> Set.maxElement

            a.OkUpTo = int64 expected
            && a.OkUpTo <= int64 cut
            && a.Valid = ends.Contains cut
            && a.Size = int64 cut
            && not a.FormatError))

[<Fact>]
let ``garbage between commands is a format error at its offset`` () =
    let ping = cmd [ "PING" ]
    let a = analyse (Array.concat [ ping; bytes "GARBAGE"; ping ])
    Assert.True(a.FormatError)
    Assert.Equal(None, a.Error)
    Assert.Equal(14L, a.OkUpTo)
    Assert.Equal(21L, a.Diff)
    Assert.Equal(4L, a.OkUpToLine)

[<Fact>]
let ``garbage inside a command stops at that command`` () =
    let set = cmd [ "SET"; "key"; "value" ]
    let file = Array.concat [ set; set[..19]; bytes "XX"; set[20..]; set ]
    let a = analyse file
    Assert.False(a.Valid)
    Assert.False(a.FormatError)
    Assert.Equal(int64 set.Length, a.OkUpTo)
    Assert.Equal("0x              32: Expected \\r\\n, got: 5858", errorText a)

[<Fact>]
let ``property: garbage inserted at a command boundary is found there`` () =
    let arb =
        Arb.fromGen (
            gen {
                let! pieces = Gens.commands
                let! at = Gen.choose (0, pieces.Length - 1)
                let! junk = Gen.elements [ "GARBAGE"; "x"; "\r\n"; "$3\r\nfoo\r\n" ]
                return pieces, at, junk
            }
        )

    law 100 arb (fun (pieces, at, junk) ->
        let before = List.take at pieces |> Array.concat
        let a = analyse (Array.concat [ before; bytes junk; Array.concat (List.skip at pieces) ])
        a.FormatError && a.OkUpTo = int64 before.Length && a.Error.IsNone)

[<Fact>]
let ``an unclosed MULTI at the end goes back to before the MULTI`` () =
    let file = Array.concat [ bytes "#TS:1700000000\r\n"; cmd [ "MULTI" ]; cmd [ "SET"; "a"; "b" ] ]
    let a = analyse file
    Assert.True(a.OpenMulti)
    Assert.Equal(58L, a.Size)
    Assert.Equal(16L, a.OkUpTo)
    Assert.Equal(42L, a.Diff)
    Assert.Equal(11L, a.OkUpToLine)
    Assert.Equal("0x              37: Reached EOF before reading EXEC for MULTI", errorText a)

[<Fact>]
let ``a cut inside a transaction goes back to before its MULTI`` () =
    let ping = cmd [ "PING" ]
    let tx = transaction [ cmd [ "SET"; "a"; "1" ]; cmd [ "INCR"; "a" ] ]

    for cut in 1 .. tx.Length - 1 do
        let a = analyse (Array.append ping tx[.. cut - 1])
        Assert.Equal(int64 ping.Length, a.OkUpTo)

    Assert.True((analyse (Array.append ping tx)).Valid)

[<Fact>]
let ``MULTI inside MULTI and EXEC without MULTI are errors where Redis finds them`` () =
    let ping = cmd [ "PING" ]
    let nested = analyseAs "nm.aof" (Array.concat [ ping; cmd [ "multi" ]; cmd [ "MULTI" ]; cmd [ "exec" ] ])
    Assert.Equal("0x              25: Unexpected MULTI in AOF nm.aof", errorText nested)
    Assert.Equal(14L, nested.OkUpTo)
    Assert.Equal(10L, nested.OkUpToLine)
    let exec = analyseAs "ex.aof" (Array.concat [ ping; cmd [ "EXEC" ]; ping ])
    Assert.Equal("0x              16: Unexpected EXEC in AOF ex.aof", errorText exec)
    Assert.Equal(14L, exec.OkUpTo)
    Assert.Equal(7L, exec.OkUpToLine)

[<Fact>]
let ``annotations are skipped and not counted as lines`` () =
    let ping = cmd [ "PING" ]
    let a = analyse (Array.concat [ bytes "#TS:1\r\n"; ping; bytes "#x\n"; ping ])
    Assert.True(a.Valid)
    Assert.Equal(7L, a.OkUpToLine)
    // Read a buffer-full at a time, newline or not: a torn annotation at the end reads as a whole one.
    let torn = analyse (Array.append ping (bytes "#TS:17000"))
    Assert.True(torn.Valid)
    Assert.Equal(23L, torn.OkUpTo)

[<Fact>]
let ``an annotation line longer than Redis's buffer leaves its rest to be read as a command`` () =
    let long = Array.concat [ bytes "#"; Array.create 1023 'x'B; bytes "\n"; cmd [ "PING" ] ]
    let a = analyse long
    Assert.True(a.FormatError)
    Assert.Equal(1023L, a.OkUpTo)
    // One byte shorter and the rest of the line ("\n") is what is left over.
    Assert.Equal(1023L, (analyse (Array.append [| '#'B |] long[2..])).OkUpTo)

[<Fact>]
let ``error texts stop at a NUL and print high bytes sign-extended, like C's`` () =
    Assert.Equal("0x               4: Expected prefix '$', got: '", errorText (analyse (bytes "*1\r\n\000\r\n")))
    Assert.Equal("0x               0: Expected \\r\\n, got: ffffffff0a", errorText (analyse (bytes "*2\xff\n")))
    Assert.Equal("0x               4: Expected prefix '$', got: '%'", errorText (analyse (bytes "*1\r\n%4\r\nPING\r\n")))

    Assert.Equal(
        "0x               4: Expected to read string of -4 bytes, which is not in the suitable range",
        errorText (analyse (bytes "*1\r\n$-4\r\nPING\r\n"))
    )

[<Fact>]
let ``headers Redis accepts but our reader refuses are reported as such`` () =
    // redis-check-aof reads "*0" as an empty command (and "$ 4", "+1", leading zeros through strtol);
    // AofReader refuses them, so the check is stricter here.
    let a = analyse (bytes "*1\r\n$4\r\nPING\r\n*0\r\n")
    Assert.False(a.Valid)
    Assert.Equal(14L, a.OkUpTo)

    match a.Error with
    | Some { Failure = CheckFailure.Stricter _; Offset = 14L } -> ()
    | e -> failwithf "expected a stricter-than-Redis error, got %A" e

[<Fact>]
let ``a file larger than the read window, torn inside a large value`` () =
    let big = Array.create 300_000 'v'B
    let pieces = [ for i in 1..10 -> command [ bytes "SET"; bytes (sprintf "k%d" i); big ] ]
    let file = Array.concat pieces
    Assert.True((analyse file).Valid)
    let last = file.Length - pieces[9].Length
    let a = analyse file[.. file.Length - 1000]
    Assert.Equal(int64 last, a.OkUpTo)

    match a.Error with
    | Some { Failure = CheckFailure.ShortRead(300_002L, got) } -> Assert.Equal(300_002L - 999L, got)
    | e -> failwithf "expected a short read, got %A" e

[<Fact>]
let ``the line count and the '*' line buffer carry over to the next file`` () =
    let first = Checker.analyse (ArraySource good) Carry.Start "a"
    let second = Checker.analyse (ArraySource(bytes "*")) first.Next "b"
    Assert.Equal(20L, first.Next.Line)
    // "*3\r\n" was the last '*' line of the first file: "*" now reads as '*', NUL, then its stale '\r'.
    Assert.Equal("0x               0: Expected \\r\\n, got: 000d", errorText second)

[<Fact>]
let ``a manifest is any file with a line starting with "file"; an RDB preamble needs eight bytes`` () =
    let detect (s: string) = Checker.detect (ArraySource(bytes s))
    Assert.Equal(InputKind.Manifest, detect "file a seq 1 type b\n")
    Assert.Equal(InputKind.Manifest, detect "# comment\nfile")
    // Even an AOF whose value "filename" sits on a line of its own.
    Assert.Equal(InputKind.Manifest, detect (latin1 (cmd [ "SET"; "k"; "filename" ])))
    Assert.Equal(InputKind.Resp, detect "  file a seq 1 type b\n")
    Assert.Equal(InputKind.Resp, detect "")
    Assert.Equal(InputKind.RdbPreamble, detect "REDIS0011")
    Assert.Equal(InputKind.Resp, detect "REDISxx")
    // Lines are read 1 KiB at a time, so the 1025th byte of a long line starts a "line" too.
    Assert.Equal(InputKind.Manifest, detect (String('x', 1024) + "file\r\n"))
    Assert.Equal(InputKind.Resp, detect (String('x', 1023) + "file\r\n"))

[<Fact>]
let ``manifest errors name the line Redis names`` () =
    let error (s: string) =
        match Checker.loadManifest (bytes s) with
        | Error e -> e.Message, e.Line |> Option.map (fun (n, t) -> n, latin1 t)
        | Ok m -> failwithf "parsed: %A" m

    Assert.Equal(("Invalid AOF manifest file format", Some(3, "")), error "# c\nfile b seq 1 type b\n\n")

    Assert.Equal(
        ("Found duplicate base file information", Some(3, "file b seq 1 type b")),
        error "# c\nfile b seq 1 type b\nfile b seq 1 type b\n"
    )

    Assert.Equal(
        ("Found a non-monotonic sequence number", Some(2, "file c seq 1 type i")),
        error "file b seq 1 type i\nfile c seq 1 type i\n"
    )

    Assert.Equal(("The AOF manifest file contains too long line", None), error "file b seq 1 type b\nfile")
    Assert.Equal(("Invalid AOF manifest file format", Some(1, "*3")), error (latin1 (cmd [ "SET"; "k"; "filename" ])))

[<Fact>]
let ``dirname is POSIX's`` () =
    Assert.Equal(".", Program.dirname "m.manifest")
    Assert.Equal("a/b", Program.dirname "a/b/m")
    Assert.Equal("/", Program.dirname "/m")
    Assert.Equal("a", Program.dirname "a//m")
    Assert.Equal("/", Program.dirname "/")

[<Fact>]
let ``#TS: annotations and --truncate-to-timestamp's argument read as redis-check-aof 7.0.15 reads them`` () =
    let time (s: string) = Checker.timestampOf (ReadOnlySpan(Text.Encoding.ASCII.GetBytes s))
    Assert.Equal(ValueSome 1000L, time "#TS:1000\r\n")
    Assert.Equal(ValueSome 0L, time "#TS:\r\n")
    Assert.Equal(ValueSome 300L, time "#TS: +300\r\n")
    Assert.Equal(ValueSome -5L, time "#TS:-5\r\n")
    Assert.Equal(ValueSome 2000L, time "#TS:2000\rX\n")
    Assert.Equal(ValueNone, time "#TS:2000x\r\n")
    Assert.Equal(ValueNone, time "#TS:1000\n")
    Assert.Equal(ValueNone, time "#TS:99999999999999999999\r\n")
    Assert.Equal(ValueSome 0L, Aof.Cli.Program.parseTimestamp "")
    Assert.Equal(ValueSome 5L, Aof.Cli.Program.parseTimestamp " 5")
    Assert.Equal(ValueSome -5L, Aof.Cli.Program.parseTimestamp "-5")
    Assert.Equal(ValueNone, Aof.Cli.Program.parseTimestamp "12x")
    Assert.Equal(ValueNone, Aof.Cli.Program.parseTimestamp "-")
    Assert.Equal(ValueNone, Aof.Cli.Program.parseTimestamp "99999999999999999999")

[<Fact>]
let ``reading stops at the first #TS: later than the target, inside a MULTI too`` () =
    let file =
        Array.concat
            [ Text.Encoding.ASCII.GetBytes "#TS:1000\r\n"
              cmd [ "MULTI" ]
              cmd [ "SET"; "a"; "1" ]
              Text.Encoding.ASCII.GetBytes "#TS:2000\r\n"
              cmd [ "SET"; "b"; "2" ]
              cmd [ "EXEC" ] ]

    let cutAt (limit: int64) = (Checker.analyseUntil (ArraySource file) Carry.Start "aof" (ValueSome limit)).Cut
    let secondStamp = 10 + (cmd [ "MULTI" ]).Length + (cmd [ "SET"; "a"; "1" ]).Length
    Assert.Equal(ValueSome 0L, cutAt 999L)
    Assert.Equal(ValueSome(int64 secondStamp), cutAt 1000L)
    Assert.Equal(ValueSome(int64 secondStamp), cutAt 1999L)
    Assert.Equal(ValueNone, cutAt 2000L)
    Assert.True((Checker.analyseUntil (ArraySource file) Carry.Start "aof" (ValueSome 2000L)).Valid)

[<Fact>]
let ``--truncate-to-timestamp goes without --fix, and its argument must be a number`` () =
    let code, text = runOurs [ "check"; "--fix"; "--truncate-to-timestamp"; "5"; "appendonly.aof" ] ""
    Assert.Equal(1, code)
    Assert.StartsWith("Usage: aof check [--fix [--yes] | --truncate-to-timestamp <timestamp>]", text)
    let code, text = runOurs [ "check"; "--truncate-to-timestamp"; "12x"; "appendonly.aof" ] ""
    Assert.Equal(1, code)
    Assert.Equal("Invalid timestamp, aborting...\n", text)
