"""Write a large valid menu (default 1,000 ivrs, about 2.7 MB) to time loading it.

    python bench/big_menu.py /tmp/big.yaml 1000
    time ivrflow validate /tmp/big.yaml
"""

from __future__ import annotations

import sys

IVR = """\
  - extension: "{ext}"
    id: {n}
    client_id: 12
    label: generated ivr {n}
    entry_context: 1
    sleep_time: 500
    lifetime: 1800
    lifetime_exp_action: hangup
    contexts:
      - id: 1
        name: main menu of ivr {n}
        description: "the main menu of generated ivr {n}: a description as long as an operator's note, to give the file a realistic size per ivr; it names the department, the opening hours and who to ask about this menu level"
        timeout: 5000
        inter_digit_timeout: 2000
        digit_len: 3
        allow_any_dial: true
        options:
          start:
            - action: play_sound
              sound: 52
              sound_type: foreground
            - action: play_sound
              sound: 51
              sound_type: background
          timeout:
            - action: transfer
              transfer_dst: "050"
          invalid:
            - action: jump_to_context
              context: 2
          "1":
            - action: set_variable
              set_variable_name: department
              set_variable_value: sales
            - action: transfer
              transfer_dst: "+79876543210,+79876543211"
          "2":
            - action: transfer
              transfer_dst: "002"
          "3":
            - action: record_digits
              record_digits_variable: account
              record_digits_max: 8
              record_digits_sound: 51
            - action: play_digits_from_variable
              play_digits_variable: account
            - action: jump_to_context
              context: 3
      - id: 2
        name: sorry
        description: "the sorry level of generated ivr {n}: a description as long as an operator's note, to give the file a realistic size per ivr; it names the department, the opening hours and who to ask about this menu level"
        timeout: 3000
        options:
          start:
            - action: play_sound
              sound: 53
              sound_type: foreground
            - action: jump_to_context
              context: 1
      - id: 3
        name: goodbye
        description: "the goodbye level of generated ivr {n}: a description as long as an operator's note, to give the file a realistic size per ivr; it names the department, the opening hours and who to ask about this menu level"
        timeout: 1000
        options:
          start:
            - action: play_digits
              digits: "123"
              play_digits_method: pronounced
            - action: play_silence
              silence_time: 500
            - action: hangup
"""

SOUNDS = """\
sounds:
  - {id: 51, title: welcome, filename: hello.wav}
  - {id: 52, title: advert, filename: advertising.wav}
  - {id: 53, title: sorry, filename: sorry.wav}
ivrs:
"""


def big_menu(ivrs: int) -> str:
    return SOUNDS + "".join(IVR.format(ext=f"{1000 + n}", n=n) for n in range(ivrs))


if __name__ == "__main__":
    out, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    with open(out, "w", encoding="utf-8") as f:
        f.write(big_menu(count))
