//! The SSE builder against the client-side reader: what a client assembles
//! from `anthropic_sse` is the script, however the deltas and frames cut it.

use std::time::Duration;

use rulegate_mock_upstream::{anthropic_sse, assembled_text, parse_sse, Block, Reply, Script};

fn script(delta_size: usize) -> Script {
    Script {
        blocks: vec![
            Block::Thinking {
                thinking: "Größe → 🦀?".into(),
                signature: "c2lnbmF0dXJl".into(),
            },
            Block::Text("héllo wörld — ✓ 🦀 日本語!\nline \"two\"".into()),
            Block::ToolUse {
                id: "toolu_01".into(),
                name: "weather".into(),
                input_json: r#"{"city":"Zürich","days":[1,2]}"#.into(),
            },
            Block::Text("second 🦀".into()),
        ],
        delta_size,
        frame_size: usize::MAX,
        delay: Duration::ZERO,
        ping_every: 0,
    }
}

/// Concatenation of one delta field over a block's deltas, checking each
/// piece is at most `size` bytes unless it is a single char.
fn deltas(events: &[(String, String)], index: u64, field: &str, size: usize) -> String {
    let mut out = String::new();
    for (name, data) in events {
        let event: serde_json::Value = serde_json::from_str(data).unwrap();
        if name == "content_block_delta" && event["index"] == index {
            if let Some(piece) = event["delta"][field].as_str() {
                assert!(
                    piece.len() <= size || piece.chars().count() == 1,
                    "{piece:?}"
                );
                assert!(!piece.is_empty());
                out.push_str(piece);
            }
        }
    }
    out
}

#[test]
fn multibyte_text_round_trips_for_every_delta_size() {
    for size in 1..=7 {
        let bytes = anthropic_sse(&script(size));
        assert_eq!(
            assembled_text(&bytes),
            [
                "",
                "héllo wörld — ✓ 🦀 日本語!\nline \"two\"",
                "",
                "second 🦀"
            ],
            "delta_size {size}"
        );
        let events = parse_sse(&bytes);
        assert_eq!(deltas(&events, 0, "thinking", size), "Größe → 🦀?");
        assert_eq!(deltas(&events, 0, "signature", usize::MAX), "c2lnbmF0dXJl");
        assert_eq!(
            deltas(&events, 2, "partial_json", size),
            r#"{"city":"Zürich","days":[1,2]}"#
        );
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names[..3], ["message_start", "ping", "content_block_start"]);
        assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
        assert!(events[events.len() - 2]
            .1
            .contains(r#""stop_reason":"tool_use""#));

        // A client on a CRLF server reads the same events.
        let crlf = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
        assert_eq!(parse_sse(crlf.as_bytes()), events);
    }
}

#[test]
fn events_are_formatted_as_the_api_sends_them() {
    let script = Script {
        delta_size: 3,
        ..Script::text("Hello")
    };
    let expected = concat!(
        "event: message_start\n",
        r#"data: {"type":"message_start","message":{"id":"msg_01MockUpstream","type":"message","role":"assistant","model":"claude-mock-1","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#,
        "\n\nevent: ping\n",
        r#"data: {"type":"ping"}"#,
        "\n\nevent: content_block_start\n",
        r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
        "\n\nevent: content_block_delta\n",
        r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}"#,
        "\n\nevent: content_block_stop\n",
        r#"data: {"type":"content_block_stop","index":0}"#,
        "\n\nevent: message_delta\n",
        r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}"#,
        "\n\nevent: message_stop\n",
        r#"data: {"type":"message_stop"}"#,
        "\n\n",
    );
    assert_eq!(String::from_utf8(anthropic_sse(&script)).unwrap(), expected);
}

#[test]
fn ping_every_n_deltas() {
    let script = Script {
        delta_size: 1,
        ping_every: 2,
        ..Script::text("abcde")
    };
    let pings = parse_sse(&anthropic_sse(&script))
        .iter()
        .filter(|(name, _)| name == "ping")
        .count();
    assert_eq!(pings, 1 + 5 / 2);
}

fn frames(reply: Reply) -> Vec<bytes::Bytes> {
    match reply {
        Reply::Chunks { frames, .. } => frames,
        Reply::Hang => panic!("expected chunks"),
    }
}

#[test]
fn frames_concatenate_to_the_same_bytes() {
    let bytes = anthropic_sse(&script(3));
    for size in (1..=10).chain([0, 1000, usize::MAX]) {
        let frames = frames(Reply::sse(&bytes, size, Duration::ZERO));
        assert_eq!(frames.concat(), bytes, "frame_size {size}");
        if size == usize::MAX {
            // One frame per event.
            assert_eq!(frames.len(), parse_sse(&bytes).len());
            assert!(frames.iter().all(|f| parse_sse(f).len() == 1));
        } else {
            assert!(frames.iter().all(|f| f.len() <= size.max(1)));
            assert_eq!(frames.len(), bytes.len().div_ceil(size.max(1)));
        }
    }
}

#[test]
fn parse_follows_the_event_stream_rules() {
    let stream = b": comment\nevent: a\ndata: one\ndata:two\nid: 7\n\ndata: plain\r\n\r\nevent: x\n\nevent: cut\ndata: {\"unfinished\"";
    assert_eq!(
        parse_sse(stream),
        [
            ("a".to_owned(), "one\ntwo".to_owned()),
            ("message".to_owned(), "plain".to_owned())
        ]
    );
}
