namespace Aof.Core

open System
open System.Text

/// Byte strings are Redis's only scalar: keys, values and arguments are all `byte[]`, compared by content.
module Bytes =
    let empty: byte[] = [||]

    /// Text that came from client bytes was decoded as Latin-1 (`toString`), so it goes back out as the
    /// same bytes; text with characters past 0xFF (a Unicode literal) is written as UTF-8.
    let textEncoding (s: string) : Encoding =
        let mutable latin = true
        let mutable i = 0

        while latin && i < s.Length do
            latin <- s[i] <= '\u00FF'
            i <- i + 1

        if latin then Encoding.Latin1 else Encoding.UTF8

    let ofString (s: string) : byte[] = (textEncoding s).GetBytes s

    /// Lossless for ASCII; other bytes are decoded as Latin-1 so every byte survives a round trip.
    let toString (b: byte[]) : string = Encoding.Latin1.GetString b

    let equal (a: byte[]) (b: byte[]) : bool =
        obj.ReferenceEquals(a, b) || ReadOnlySpan<byte>(a).SequenceEqual(ReadOnlySpan<byte>(b))

    /// Lexicographic by unsigned byte, shorter first on a common prefix: memcmp order, as Redis sorts.
    let compare (a: byte[]) (b: byte[]) : int =
        ReadOnlySpan<byte>(a).SequenceCompareTo(ReadOnlySpan<byte>(b))

    /// Case-insensitive ASCII equality against a lower-case literal (command names and options).
    let eqLower (literal: string) (b: byte[]) : bool =
        if b.Length <> literal.Length then
            false
        else
            let mutable ok = true
            let mutable i = 0

            while ok && i < b.Length do
                let c = b[i]
                let c = if c >= 65uy && c <= 90uy then c + 32uy else c
                ok <- c = byte literal[i]
                i <- i + 1

            ok

    /// Redis's sdscatrepr: the text in double quotes with \\ \" \n \r \t \a \b escaped and other
    /// unprintable characters as \xHH, so its word splitting gives the text back. `keepHigh` leaves
    /// characters above 0x7e as they are (text that is not bytes, such as a config value).
    let repr (keepHigh: bool) (s: string) : string =
        let sb = StringBuilder(s.Length + 2)
        sb.Append '"' |> ignore

        for c in s do
            match c with
            | '\\' -> sb.Append "\\\\" |> ignore
            | '"' -> sb.Append "\\\"" |> ignore
            | '\n' -> sb.Append "\\n" |> ignore
            | '\r' -> sb.Append "\\r" |> ignore
            | '\t' -> sb.Append "\\t" |> ignore
            | '\a' -> sb.Append "\\a" |> ignore
            | '\b' -> sb.Append "\\b" |> ignore
            | c when c >= ' ' && c <= '~' -> sb.Append c |> ignore
            | c when keepHigh && c > '\127' -> sb.Append c |> ignore
            | c -> sb.AppendFormat("\\x{0:x2}", int c) |> ignore

        sb.Append('"').ToString()

    let toLower (b: byte[]) : string =
        String(Array.map (fun (c: byte) -> if c >= 65uy && c <= 90uy then char (c + 32uy) else char c) b)

    /// Eight bytes at a time (a multiply-rotate round per word, as xxHash mixes), then a final avalanche:
    /// deterministic across processes, so iteration and SCAN order are reproducible in tests. Every key is
    /// hashed at least twice per write (decide and evolve), so this is on the hottest path there is.
    let hash (b: byte[]) : int =
        let data = ReadOnlySpan b
        let mutable h = 0x27D4EB2F165667C5UL ^^^ uint64 b.Length
        let mutable i = 0

        while i + 8 <= data.Length do
            let w = Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(data.Slice i) * 0xC2B2AE3D27D4EB4FUL
            h <- (h ^^^ ((w <<< 31) ||| (w >>> 33)) * 0x9E3779B185EBCA87UL)
            h <- ((h <<< 27) ||| (h >>> 37)) * 0x9E3779B185EBCA87UL + 0x85EBCA77C2B2AE63UL
            i <- i + 8

        if i < data.Length then
            let mutable tail = 0UL

            for j in data.Length - 1 .. -1 .. i do
                tail <- (tail <<< 8) ||| uint64 data[j]

            h <- h ^^^ (tail * 0x9E3779B185EBCA87UL)
            h <- ((h <<< 23) ||| (h >>> 41)) * 0xC2B2AE3D27D4EB4FUL + 0x165667B19E3779F9UL

        h <- h ^^^ (h >>> 33)
        h <- h * 0xFF51AFD7ED558CCDUL
        h <- h ^^^ (h >>> 33)
        h <- h * 0xC4CEB9FE1A85EC53UL
        h <- h ^^^ (h >>> 33)
        int (uint32 h ^^^ uint32 (h >>> 32))

/// Byte-string equality for .NET collections keyed by `byte[]`.
[<Sealed>]
type BytesComparer() =
    static member val Instance = BytesComparer()

    interface Collections.Generic.IEqualityComparer<byte[]> with
        member _.Equals(a, b) = Bytes.equal a b
        member _.GetHashCode b = Bytes.hash b
