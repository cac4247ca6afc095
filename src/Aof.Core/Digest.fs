namespace Aof.Core

open System
open System.Globalization
open System.Security.Cryptography

/// Redis's DEBUG DIGEST and DEBUG DIGEST-VALUE, byte for byte, so a test can ask Aof and a real Redis for
/// the digest of "the same dataset" and compare one line.
///
/// The scheme, as observed on redis-server 7.0.15 (every step below was checked against it):
/// - Two primitives on a 20-byte digest `d`: XOR-in(d, data) is `d ^= SHA1(data)`; Mix(d, data) is
///   XOR-in(d, data) followed by `d <- SHA1(d)`.
/// - A value's digest starts at zero; Mix its type code (4 bytes, big-endian; string = 0); Mix its content
///   (a string's bytes; a counter's decimal text, exactly like the equal string); if the key has a TTL,
///   XOR-in the 10 ASCII bytes `!!expire!!` (the TTL's time is not digested, only that there is one).
///   DEBUG DIGEST-VALUE answers this value digest: the key name is not part of it.
/// - A key's digest starts at zero; Mix the key's bytes; then the value steps above on the same digest.
/// - The dataset digest starts at zero. For each database in ascending order that holds at least one key:
///   Mix its index (4 bytes, big-endian) first, then XOR-in each key's digest. XOR-in hashes the key digest
///   again before XOR-ing it (it is not a plain XOR), and XOR makes the order of keys within a database
///   irrelevant; the Mix of the next database index chains databases in order.
/// - Keys that are logically expired but still stored are digested like any other: Redis walks its dict.
///   Callers decide what the keyspace holds.
module Digest =
    [<Literal>]
    let private Size = 20

    let private zeros = String('0', 2 * Size)

    /// `!!expire!!`, XOR-ed in for a key with a TTL; its SHA1 is all that is ever used.
    let private expireMark = SHA1.HashData("!!expire!!"B)

    /// Redis's object type codes, as the 4 big-endian bytes that get mixed.
    let private typeBytes (code: int) : byte[] =
        [| byte (code >>> 24); byte (code >>> 16); byte (code >>> 8); byte code |]

    let private stringType = typeBytes 0

    /// The working state of one digest computation: one reusable SHA1 (IncrementalHash is a little faster
    /// than the one-shot SHA1.HashData for these tiny inputs), room for one hash and for one counter's text,
    /// so digesting allocates nothing per key. Not shared between threads.
    type private Digester() =
        let sha1 = IncrementalHash.CreateHash HashAlgorithmName.SHA1
        let hash = Array.zeroCreate<byte> Size
        let number = Array.zeroCreate<byte> 20 // "-9223372036854775808" is the longest int64 text

        /// hash <- SHA1(data)
        member private _.Hash(data: ReadOnlySpan<byte>) =
            sha1.AppendData data
            sha1.GetHashAndReset(Span<byte> hash) |> ignore

        /// d ^= SHA1(data)
        member this.XorIn(d: byte[], data: ReadOnlySpan<byte>) =
            this.Hash data

            for i in 0 .. Size - 1 do
                d[i] <- d[i] ^^^ hash[i]

        /// d ^= h, for a SHA1 computed ahead of time.
        member _.XorHash(d: byte[], h: byte[]) =
            for i in 0 .. Size - 1 do
                d[i] <- d[i] ^^^ h[i]

        /// d <- SHA1(d ^ SHA1(data))
        member this.Mix(d: byte[], data: ReadOnlySpan<byte>) =
            this.XorIn(d, data)
            this.Hash(ReadOnlySpan<byte> d)
            Buffer.BlockCopy(hash, 0, d, 0, Size)

        /// Mixes a counter's decimal text, formatted into the scratch buffer.
        member this.MixInt(d: byte[], n: int64) =
            let mutable written = 0
            n.TryFormat(Span<byte> number, &written, ReadOnlySpan<char>.Empty, CultureInfo.InvariantCulture) |> ignore
            this.Mix(d, ReadOnlySpan<byte>(number, 0, written))

        /// The value steps of a key's digest: type code, content, TTL marker.
        member this.Value(d: byte[], e: Entry) =
            match e.Value with
            | Value.Str s ->
                this.Mix(d, ReadOnlySpan<byte> stringType)
                this.Mix(d, ReadOnlySpan<byte> s)
            | Value.Int n ->
                this.Mix(d, ReadOnlySpan<byte> stringType)
                this.MixInt(d, n)
            // Collections: the type code, then the elements folded in as Redis does for that type.
            // (UNVERIFIED skeleton: each family's helper checks its case against a real Redis 7.0.)
            | Value.List l ->
                this.Mix(d, ReadOnlySpan<byte>(typeBytes 1))

                for x in PList.toSeq l do
                    this.Mix(d, ReadOnlySpan<byte> x)
            | Value.Set s ->
                this.Mix(d, ReadOnlySpan<byte>(typeBytes 2))

                for (m, ()) in Champ.toSeq s do
                    this.XorIn(d, ReadOnlySpan<byte> m)
            | Value.ZSet z ->
                this.Mix(d, ReadOnlySpan<byte>(typeBytes 3))

                for struct (m, score) in ZSet.toSeq z do
                    let el = Array.zeroCreate<byte> Size
                    this.Mix(el, ReadOnlySpan<byte> m)
                    this.Mix(el, ReadOnlySpan<byte>(Score.format score))
                    this.XorIn(d, ReadOnlySpan<byte> el)
            | Value.Hash h ->
                this.Mix(d, ReadOnlySpan<byte>(typeBytes 4))

                for (f, v) in Champ.toSeq h do
                    let el = Array.zeroCreate<byte> Size
                    this.Mix(el, ReadOnlySpan<byte> f)
                    this.Mix(el, ReadOnlySpan<byte> v)
                    this.XorIn(d, ReadOnlySpan<byte> el)

            if Expiry.has e then this.XorHash(d, expireMark)

        interface IDisposable with
            member _.Dispose() = sha1.Dispose()

    let private hex (d: byte[]) : string = Convert.ToHexStringLower d

    /// DEBUG DIGEST: 40 lower-case hex chars; all zeros for an empty dataset.
    let dataset (ks: Keyspace) : string =
        use g = new Digester()
        let final = Array.zeroCreate<byte> Size
        let key = Array.zeroCreate<byte> Size
        let dbId = Array.zeroCreate<byte> 4

        for j in 0 .. (Keyspace.databases ks) - 1 do
            let db = Keyspace.db j ks

            if not (Champ.isEmpty db.Keys) then
                dbId[0] <- byte (j >>> 24)
                dbId[1] <- byte (j >>> 16)
                dbId[2] <- byte (j >>> 8)
                dbId[3] <- byte j
                g.Mix(final, ReadOnlySpan<byte> dbId)

                db.Keys
                |> Champ.iter (fun k e ->
                    Array.Clear key
                    g.Mix(key, ReadOnlySpan<byte> k)
                    g.Value(key, e)
                    g.XorIn(final, ReadOnlySpan<byte> key))

        hex final

    /// DEBUG DIGEST-VALUE for one key's entry (ValueNone → 40 zeros, as Redis answers for a missing key).
    /// Redis looks the key up without expiring it, so pass a stored entry even if its time has passed.
    let value (entry: Entry voption) : string =
        match entry with
        | ValueNone -> zeros
        | ValueSome e ->
            let d = Array.zeroCreate<byte> Size
            use g = new Digester()
            g.Value(d, e)
            hex d
