import yaml

from bot.nlu.normalise import KEEP_PHRASES_FILE, MAX_CHARS, normalise, normalise_text, opencc_converter


def test_full_width_becomes_half_width():
    assert normalise_text("ＡＢＣ１２３，我在５樓") == "ABC123,我在5樓"


def test_simplified_becomes_traditional_with_taiwanese_words():
    assert normalise_text("路灯坏了，垃圾车几点来？") == "路燈壞了,垃圾車幾點來?"
    assert normalise_text("出租车司机乱停") == "計程車司機亂停"


def test_simplified_writing_keeps_the_words_taiwan_uses_in_city_matters():
    # OpenCC's Taiwan phrase table is computing vocabulary: 社区 → 社群, 程序 → 程式, 对象 → 物件.
    assert normalise_text("我们社区的路灯坏了") == "我們社區的路燈壞了"
    assert normalise_text("这个补助的申请程序和对象是什么") == "這個補助的申請程序和對象是什麼"
    assert normalise_text("户籍注销，污水溢出") == "戶籍註銷,汙水溢出"
    # ... while the rest of the text still gets it, also right next to a kept word
    assert normalise_text("社区网络不通，打印机坏了") == "社區網路不通,印表機壞了"


def test_every_kept_word_comes_back_as_taiwan_writes_it():
    words = yaml.safe_load(KEEP_PHRASES_FILE.read_text(encoding="utf-8"))["keep"]
    to_simplified = opencc_converter("tw2s")
    assert len(words) >= 20
    for word in words:
        simplified = to_simplified.convert(word)
        # a Simplified sentence around it, so the text counts as Simplified writing
        assert normalise_text(f"这里的{simplified}问题") == f"這裡的{word}問題", word


def test_traditional_text_is_left_as_it_is():
    assert normalise_text("巷口路燈不亮，裡面很暗") == "巷口路燈不亮,裡面很暗"


def test_traditional_text_keeps_its_words_only_taiwan_character_forms_change():
    # The mainland→Taiwan phrase table is for Simplified text: it made 社區 社群 and 分區 分割槽.
    assert normalise_text("我們社區的分區證明要走什麼申請程序") == "我們社區的分區證明要走什麼申請程序"
    assert normalise_text("一台車停在陽台下面，着火了") == "一臺車停在陽臺下面,著火了"
    assert normalise_text("公共自行車的站點被打開了") == "公共自行車的站點被打開了"


def test_characters_taiwan_writes_that_opencc_calls_simplified_are_kept():
    # OpenCC's Simplified→Traditional character table read 里長 as 裡長 and 干擾 as 幹擾.
    text = "里長說鄰里有人干擾施工，准許于小姐占用騎樓周末擺攤"
    assert normalise_text(text) == text.replace("，", ",")
    assert normalise_text("裏面的廁所爲什麼不能用") == "裡面的廁所為什麼不能用"  # Taiwan standard forms


def test_control_and_zero_width_characters_are_removed_and_spaces_collapsed():
    assert normalise_text("  路\u200b燈\x00壞了\n\n\t了  ") == "路燈壞了 了"


def test_roc_years_become_western_years():
    assert normalise_text("民國105年9月14日停電") == "2016年9月14日停電"
    assert normalise_text("115年3月1日") == "2026年3月1日"
    assert normalise_text("西元2016年") == "2016年"
    # A quantity of years is not a date.
    assert normalise_text("住了30年") == "住了30年"


def test_empty_and_too_long_are_flagged():
    assert normalise("").empty and normalise(None).empty and normalise(" \u3000\u200b ").empty
    long = normalise("路" * (MAX_CHARS + 1))
    assert long.too_long and len(long.text) == MAX_CHARS
    huge = normalise("燈" * 1_000_000)
    assert huge.too_long and len(huge.text) == MAX_CHARS
    ok = normalise("路燈")
    assert not ok.too_long and not ok.empty


def test_emoji_survive():
    assert normalise_text("😀😀") == "😀😀"


def test_characters_taiwan_writes_that_opencc_turns_into_others_keep_a_text_traditional():
    # 雇 涂 采 杰 were read as Simplified, so the whole text went through the mainland phrase
    # table (社區 → 社群) and 雇 → 僱, 涂 → 塗.
    text = "雇主不給薪水,社區的涂先生說風采不減,周杰倫也來過,粽子攤的灶很舊"
    assert normalise_text(text) == text


def test_a_stray_simplified_character_in_traditional_writing_is_converted_alone():
    assert normalise_text("我們社區的路灯不亮") == "我們社區的路燈不亮"
    assert normalise_text("里長說这裡的程序很麻煩") == "里長說這裡的程序很麻煩"


def test_simplified_forms_opencc_also_lists_as_traditional_make_a_text_simplified():
    assert normalise_text("一万块的价格") == "一萬塊的價格"
    assert normalise_text("据说广场的种子") == "據說廣場的種子"


def test_the_normaliser_and_the_script_detector_share_one_definition():
    from bot import script
    from bot.nlu.normalise import script_characters

    chars = script_characters()
    assert chars.simplified.isdisjoint(chars.traditional)
    for text in ("雇主不給薪水", "一万块的价格", "我們社區的路灯不亮", "里長干擾"):
        s, t = chars.counts(text)
        assert (script.script_of(text) == script.HANS) == (s > t and s > 0)
        assert (normalise_text(text) != opencc_t2tw(text)) == (s > 0)


def opencc_t2tw(text: str) -> str:
    from bot.nlu.normalise import opencc_converter

    return opencc_converter("t2tw").convert(text).replace("台", "臺")
