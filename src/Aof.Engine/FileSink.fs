namespace Aof.Engine

#nowarn "9" // DirectFile's staging buffer is native memory, aligned as O_DIRECT requires.

open System
open System.IO
open System.Runtime.InteropServices
open Microsoft.FSharp.NativeInterop
open Microsoft.Win32.SafeHandles

/// A write that did not happen, with the reason as the OS words it (`No space left on device`): Redis
/// puts that text in its log and in the `-MISCONF` error.
exception WriteFailed of reason: string

/// The narrow seam between the log and the disk. Everything the AOF does to a file goes through it, so
/// tests can put ENOSPC, EIO and short writes in the way of a real file.
type IFileSink =
    inherit IDisposable
    abstract Path: string
    /// Bytes in the file.
    abstract Length: int64
    /// Appends all of `data`, or raises WriteFailed; on failure a prefix of `data` may have reached the file.
    abstract Write: data: ReadOnlySpan<byte> -> unit
    /// fdatasync: what was written survives a crash once this returns. Raises WriteFailed.
    abstract Sync: unit -> unit
    /// Cuts the file back (to undo a partial write). Raises WriteFailed.
    abstract Truncate: length: int64 -> unit

module private Native =
    [<DllImport("libc", SetLastError = true)>]
    extern int fdatasync(int fd)

    [<DllImport("libc", SetLastError = true)>]
    extern int fsync(int fd)

    [<DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)>]
    extern int ``open``(string path, int flags)

    [<DllImport("libc", SetLastError = true)>]
    extern int close(int fd)

    [<DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, EntryPoint = "open")>]
    extern int openMode(string path, int flags, int mode)

    [<DllImport("libc", SetLastError = true)>]
    extern nativeint pwrite(int fd, nativeint buf, nativeint count, int64 offset)

    [<DllImport("libc", SetLastError = true)>]
    extern int fcntl(int fd, int cmd, int arg)

    [<DllImport("libc")>]
    extern nativeint strerror(int errnum)

/// Files on disk, with Redis's durability calls.
module FileSink =
    let private errnoText (errno: int) =
        match Marshal.PtrToStringAnsi(Native.strerror errno) with
        | null -> sprintf "errno %d" errno
        | s -> s

    /// The OS reason behind an IOException: .NET keeps errno in the HResult's low bits on Unix.
    let reasonOf (e: exn) : string =
        match e with
        | WriteFailed reason -> reason
        | :? IOException as io when OperatingSystem.IsLinux() && io.HResult &&& 0xFFFF > 0 && io.HResult &&& 0xFFFF < 200 ->
            errnoText (io.HResult &&& 0xFFFF)
        | e -> e.Message

    /// Raises WriteFailed for the last system call's errno.
    let internal failWithErrno () : 'T =
        raise (WriteFailed(errnoText (Marshal.GetLastPInvokeError())))

    let private sync (handle: SafeFileHandle) (path: string) =
        if OperatingSystem.IsLinux() then
            if Native.fdatasync (int (handle.DangerousGetHandle())) <> 0 then
                failWithErrno ()
        else
            try
                RandomAccess.FlushToDisk handle
            with e ->
                raise (WriteFailed(sprintf "%s: %s" path e.Message))

    /// Opens (creating if needed) a file for appending.
    let openAppend (path: string) : IFileSink =
        let handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite ||| FileShare.Delete)
        let mutable length = RandomAccess.GetLength handle

        { new IFileSink with
            member _.Path = path
            member _.Length = length

            member _.Write(data: ReadOnlySpan<byte>) =
                try
                    RandomAccess.Write(handle, data, length)
                    length <- length + int64 data.Length
                with e ->
                    // Whatever part reached the file is past `length`: the caller truncates it away.
                    raise (WriteFailed(reasonOf e))

            member _.Sync() = sync handle path

            member _.Truncate(len: int64) =
                try
                    RandomAccess.SetLength(handle, len)
                    length <- len
                with e ->
                    raise (WriteFailed(reasonOf e))

            member _.Dispose() = handle.Dispose() }

    /// Makes a directory's entries (a rename, a new file) durable, as Redis does after replacing the
    /// manifest.
    let syncDirectory (dir: string) : unit =
        if OperatingSystem.IsLinux() then
            let fd = Native.``open`` (dir, 0)

            if fd >= 0 then
                Native.fsync fd |> ignore
                Native.close fd |> ignore

    /// Writes a whole file durably: temp name, write, fsync, rename over, fsync the directory.
    let replaceDurably (path: string) (bytes: byte[]) : unit =
        let dir = Path.GetDirectoryName(Path.GetFullPath path)
        let temp = Path.Combine(dir, "temp-" + Path.GetFileName path)

        using (File.OpenHandle(temp, FileMode.Create, FileAccess.Write)) (fun h ->
            RandomAccess.Write(h, ReadOnlySpan bytes, 0L)
            sync h temp)

        File.Move(temp, path, true)
        syncDirectory dir

/// A new file written past the page cache (O_DIRECT), for the rewrite's base: copying tens of megabytes
/// into the page cache and writing them back later runs through the caches the event loop works from.
/// Writes are staged in an aligned native buffer and go out in whole blocks; the unaligned tail goes out
/// last, through the page cache.
[<Sealed>]
type DirectFile private (fd: int) =
    static let block = 4096
    static let capacity = 1 <<< 20
    // x86-64 Linux's values; other architectures number O_DIRECT differently and get None from TryCreate.
    static let oWronly, oCreat, oTrunc, oDirect, oCloexec = 0x1, 0x40, 0x200, 0x4000, 0x80000
    static let fGetfl, fSetfl = 3, 4
    let staging =
        NativeMemory.AlignedAlloc(unativeint capacity, unativeint block) |> NativePtr.ofVoidPtr<byte> |> NativePtr.toNativeInt

    let at (i: int) = NativePtr.ofNativeInt<byte> (staging + nativeint i) |> NativePtr.toVoidPtr
    let mutable fill = 0
    let mutable offset = 0L
    let mutable closed = false

    let mutable direct = true

    /// Later writes go through the page cache.
    let leaveDirect () =
        let flags = Native.fcntl (fd, fGetfl, 0)
        if flags < 0 || Native.fcntl (fd, fSetfl, flags &&& ~~~oDirect) < 0 then FileSink.failWithErrno ()
        direct <- false

    let writeOut (count: int) =
        let mutable sent = 0

        while sent < count do
            let n = Native.pwrite (fd, staging + nativeint sent, nativeint (count - sent), offset + int64 sent)

            if n >= 0n then
                sent <- sent + int n
            // EINVAL: a file system that opened the file for O_DIRECT but wants another alignment; the
            // file is still good through the page cache.
            elif direct && Marshal.GetLastPInvokeError() = 22 then
                leaveDirect ()
            else
                FileSink.failWithErrno ()

        offset <- offset + int64 count

    /// The whole blocks staged go out; the rest moves to the front of the buffer.
    let writeBlocks () =
        let aligned = fill / block * block

        if aligned > 0 then
            writeOut aligned
            let rest = fill - aligned
            if rest > 0 then Buffer.MemoryCopy(at aligned, at 0, int64 capacity, int64 rest)
            fill <- rest

    let sync () = if Native.fdatasync fd <> 0 then FileSink.failWithErrno ()

    /// Creates (or empties) `path` for direct writing; None where the platform or the file system does
    /// not offer it (some refuse O_DIRECT at open), and the caller writes through the page cache instead.
    static member TryCreate(path: string) : DirectFile option =
        if OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture = Architecture.X64 then
            let fd = Native.openMode (path, oWronly ||| oCreat ||| oTrunc ||| oCloexec ||| oDirect, 0o644)
            if fd >= 0 then Some(new DirectFile(fd)) else None
        else
            None

    member _.Write(data: ReadOnlySpan<byte>) =
        let mutable rest = data

        while not rest.IsEmpty do
            let n = min rest.Length (capacity - fill)
            rest.Slice(0, n).CopyTo(Span<byte>(at fill, n))
            fill <- fill + n
            rest <- rest.Slice n
            if fill = capacity then writeBlocks ()

    /// What whole blocks are staged go out and are synced (aof-rewrite-incremental-fsync).
    member _.SyncBlocks() =
        writeBlocks ()
        sync ()

    /// Everything goes out, the tail through the page cache, and is synced.
    member _.Finish() =
        writeBlocks ()

        if fill > 0 then
            if direct then leaveDirect ()
            writeOut fill
            fill <- 0

        sync ()

    interface IDisposable with
        member _.Dispose() =
            if not closed then
                closed <- true
                Native.close fd |> ignore
                NativeMemory.AlignedFree(at 0)

/// The engine's effects at its edge that tests replace: how AOF files are opened (fault injection goes
/// here) and how the process ends on a fatal persistence error (Redis exits; a test records it instead).
type EngineHooks =
    { OpenSink: string -> IFileSink
      Exit: int -> unit
      /// Told each step of a background rewrite ("base-half-written", "base-written", "manifest-switched"):
      /// a test raises here to leave the files as a crash at that step would.
      RewriteStep: string -> unit }

    static member Default =
        { OpenSink = FileSink.openAppend
          Exit = fun code -> exit code
          RewriteStep = ignore }
