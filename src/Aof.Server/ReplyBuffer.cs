using System.Buffers;

namespace Aof.Server;

/// <summary>
/// A client's unsent replies: the engine serializes into it, the event loop sends from it. Kept per client
/// and reused, so a steady client allocates nothing here per command.
/// </summary>
sealed class ReplyBuffer : IBufferWriter<byte>
{
    const int Initial = 16 * 1024;
    byte[] bytes = new byte[Initial];
    int written;
    int sent;

    public bool IsEmpty => sent == written;

    /// <summary>The bytes written and not yet sent.</summary>
    public ReadOnlySpan<byte> Unsent => bytes.AsSpan(sent, written - sent);

    /// <summary>Marks <paramref name="count"/> bytes as sent; once all are, the buffer starts over (smaller, after a huge reply).</summary>
    public void Sent(int count)
    {
        sent += count;
        if (sent < written) return;
        sent = written = 0;
        if (bytes.Length > 64 * Initial) bytes = new byte[Initial];
    }

    public void Advance(int count) => written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return bytes.AsMemory(written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return bytes.AsSpan(written);
    }

    void Reserve(int sizeHint)
    {
        var needed = Math.Max(sizeHint, 1);
        if (bytes.Length - written >= needed) return;
        var unsent = written - sent;
        var target = bytes.Length;
        while (target - unsent < needed) target = checked(target * 2);
        var next = target == bytes.Length ? bytes : new byte[target];
        bytes.AsSpan(sent, unsent).CopyTo(next);
        bytes = next;
        sent = 0;
        written = unsent;
    }
}
