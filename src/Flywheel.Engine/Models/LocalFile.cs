using System.Text;

namespace Flywheel.Models;

/// <summary>
/// Reading the files of a folder someone else named (an adapter folder given to the runtime load route, a
/// checkpoint to import). A file's size is that of the file its links finally point at, and a file that
/// reports no content (FIFOs and devices report none) is never read as if it were data: a FIFO's open waits
/// for a writer, and a device such as /dev/zero never ends. Every refusal is a <see cref="ModelConfigException"/>
/// naming the file.
/// </summary>
internal static class LocalFile
{
    /// <summary>
    /// The size of the file at <paramref name="path"/>, following links: 0 for an empty file, a FIFO or a
    /// device. Throws <see cref="ModelConfigException"/> for a missing file or a link that cannot be followed.
    /// </summary>
    public static long Length(string path)
    {
        FileSystemInfo info = new FileInfo(path);
        try
        {
            if (info.LinkTarget is not null)
            {
                info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
            }
        }
        catch (IOException e)
        {
            throw new ModelConfigException($"{path}: its link cannot be followed: {e.Message}", e);
        }

        return info is FileInfo { Exists: true } file ? file.Length : throw new ModelConfigException($"{path}: file not found.");
    }

    /// <summary>
    /// The UTF-8 text of <paramref name="path"/>, refused unread when it reports no content or more than
    /// <paramref name="maxBytes"/>, and refused if it turns out longer while read. Throws
    /// <see cref="ModelConfigException"/> for a missing file too.
    /// </summary>
    public static string ReadText(string path, int maxBytes)
    {
        var length = Length(path);
        if (length == 0)
        {
            throw new ModelConfigException($"{path}: empty, or not a regular file (a FIFO or a device).");
        }

        if (length > maxBytes)
        {
            var limit = maxBytes % (1 << 20) == 0 ? $"{maxBytes >> 20} MiB" : $"{maxBytes} bytes";
            throw new ModelConfigException($"{path}: {length} bytes; at most {limit} is read.");
        }

        var buffer = new byte[length + 1];
        int read;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelConfigException($"{path}: cannot be read: {e.Message}", e);
        }

        if (read > length)
        {
            throw new ModelConfigException($"{path}: changed while it was read.");
        }

        var bom = Encoding.UTF8.Preamble;
        var start = buffer.AsSpan(0, read).StartsWith(bom) ? bom.Length : 0;
        return Encoding.UTF8.GetString(buffer, start, read - start);
    }
}
