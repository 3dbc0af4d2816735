"""A topic lexicon for B2B SaaS customer feedback, in English and Japanese, shipped as data.

Short comments about one topic rarely share words ("too pricey", "the renewal quote doubled"),
so TF-IDF alone cannot tell they belong together.  This lexicon supplies that knowledge: for
each common topic of SaaS feedback, the words and short phrases customers use for it.
:mod:`analytics.themes` uses it to guide learning; the themes are still learned from, and
labelled with, the comments' own words.

Written from general product knowledge, before looking at the labelled test sets (see
bench/README.md, "Comment themes"), and frozen since: change it only with a new measurement.

Entries are written as customers write them; they are matched after the same analysis as the
comments (English: lowercased words, plurals folded, stop words kept; Japanese: janome's
dictionary forms of every word), as a run of consecutive words.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LexiconTopic:
    """A topic: a stable key, a short label in the language, and the words for it."""

    key: str
    label: str
    terms: tuple[str, ...]


def _terms(text: str) -> tuple[str, ...]:
    """One entry a line (or several separated by ``|``); blank lines ignored."""
    out: list[str] = []
    for line in text.splitlines():
        out.extend(part.strip() for part in line.split("|") if part.strip())
    return tuple(out)


ENGLISH: tuple[LexiconTopic, ...] = (
    LexiconTopic(
        "pricing",
        "pricing & billing",
        _terms("""
            price | prices | pricing | priced | pricey | overpriced | expensive | cheap | cheaper
            cost | costs | costly | afford | affordable | value for money | worth the money
            subscription | subscriptions | billing | billed | bill | bills | invoice | invoices
            invoicing | charge | charged | charges | overcharged | refund | refunds | payment
            payments | pay | paying | paid plan | credit card | renewal | renew | renewed
            license | licence | licenses | licensing | per seat | seats | per user | discount
            quote | tax | vat | receipt | receipts | fee | fees | budget | tier | tiers
            upgrade | downgrade | annual plan | monthly plan | free plan | price increase
        """),
    ),
    LexiconTopic(
        "performance",
        "speed & performance",
        _terms("""
            slow | slower | slowly | slowness | slows down | sluggish | lag | laggy | lagging
            latency | fast | faster | quick | quicker | speed | speedy | performance | perform
            performs | load | loading | loads | load time | takes forever | forever | wait
            waiting | spinner | spinning | hang | hangs | delay | delays | delayed | snappy
            timeout | timeouts | timed out | page load | render | rendering | crawl | speed up
            optimize | optimise | bottleneck | heavy | large dataset | seconds to load
        """),
    ),
    LexiconTopic(
        "support",
        "customer support",
        _terms("""
            support | support team | customer support | customer service | ticket | tickets
            helpdesk | help desk | agent | agents | reply | replied | replies | response time
            responded | answer | answered | live chat | chat | phone support | email support
            escalate | escalated | escalation | account manager | csm | customer success | rep
            representative | staff | helpful | unhelpful | friendly | rude | polite
            knowledgeable | resolved | resolve | resolution | sla | follow up | followed up
            got back | get back | contacted | reached out | no response
        """),
    ),
    LexiconTopic(
        "usability",
        "ease of use & UI",
        _terms("""
            easy | easier | easy to use | intuitive | unintuitive | confusing | confused
            clunky | cluttered | clean | simple | complicated | complex | hard to use
            user friendly | usability | ui | ux | interface | design | layout | navigation
            navigate | menu | menus | button | buttons | click | clicks | too many clicks
            screen | font | look and feel | modern | outdated | dated | learning curve | steep
            hidden | buried | drag and drop | straightforward | messy | ugly | sleek | scroll
            scrolling | tab | tabs
        """),
    ),
    LexiconTopic(
        "reporting",
        "reports, analytics & export",
        _terms("""
            report | reports | reporting | dashboard | dashboards | chart | charts | graph
            graphs | analytics | metric | metrics | kpi | kpis | insight | insights | export
            exports | exporting | exported | csv | excel | pdf | spreadsheet | breakdown
            trend | trends | visualization | visualisation | visualize | widget | widgets
            pivot | scheduled report | custom report | stats | statistics | drill down
            aggregate | xlsx | numbers
        """),
    ),
    LexiconTopic(
        "integrations",
        "integrations & API",
        _terms("""
            integration | integrations | integrate | integrates | integrated | api | apis
            webhook | webhooks | zapier | salesforce | hubspot | slack | jira | microsoft teams
            outlook | gmail | google sheets | google | sync | syncing | synced | syncs
            connector | connectors | connect | connects | connection | plugin | plugins
            add on | sdk | endpoint | endpoints | rate limit | third party | zendesk
            intercom | shopify | quickbooks | xero | github | crm | erp | two way sync
            native integration
        """),
    ),
    LexiconTopic(
        "mobile",
        "mobile app",
        _terms("""
            mobile | mobile app | ios | android | iphone | ipad | tablet | phone | smartphone
            app store | play store | google play | mobile version | mobile site | on the go
            small screen | touch | swipe | tap | portrait | landscape | native app
            on my phone | the app on | apps | offline mode | offline | on the road
            in the field
        """),
    ),
    LexiconTopic(
        "reliability",
        "bugs, errors & outages",
        _terms("""
            bug | bugs | buggy | glitch | glitches | glitchy | crash | crashes | crashed
            crashing | error | errors | error message | broken | breaks | broke | went down
            was down | is down | goes down | downtime | outage | outages | unavailable
            unstable | stability | reliable | reliability | unreliable | freeze | freezes
            frozen | fail | fails | failed | failure | failing | data loss | lost data
            lost my | uptime | status page | incident | incidents | workaround
            not working | stopped working | doesnt work | blank page | white screen | 500
        """),
    ),
    LexiconTopic(
        "onboarding",
        "onboarding, setup & docs",
        _terms("""
            onboarding | onboard | onboarded | setup | set up | setting up | getting started
            get started | tutorial | tutorials | documentation | docs | doc | guide | guides
            help center | help article | help articles | knowledge base | walkthrough
            training | trained | webinar | webinars | video | videos | learn | learning
            first time | implementation | implement | install | installation | installed
            manual | instructions | example | examples | faq | how to | demo | sandbox
            kickoff | new user | new users | ramp up
        """),
    ),
    LexiconTopic(
        "features",
        "feature requests & missing features",
        _terms("""
            feature | features | feature request | missing | lack | lacks | lacking | wish
            wishlist | would love | would be great | would be nice | please add | add
            adding | request | requested | roadmap | ability to | support for | bulk
            bulk edit | template | templates | automation | automate | automations
            recurring | when will | suggestion | suggest | improvement | enhancement
            functionality | capability | capabilities | competitor | competitors
            limited | limitation | limitations | basic | option to | no way to
        """),
    ),
    LexiconTopic(
        "security",
        "security, SSO & permissions",
        _terms("""
            security | secure | insecure | sso | single sign on | saml | okta | azure ad
            2fa | two factor | mfa | password | passwords | login | log in | sign in
            signin | permission | permissions | role | roles | access | access control
            admin | admins | audit | audit log | gdpr | compliance | compliant | soc 2
            iso 27001 | encryption | encrypted | privacy | breach | vulnerability
            ip allowlist | ip whitelist | session | sessions | scim | provisioning
            user management | authentication | auth | hipaa
        """),
    ),
    LexiconTopic(
        "notifications",
        "notifications & email",
        _terms("""
            notification | notifications | notify | notified | alert | alerts | email
            emails | e mail | inbox | spam | reminder | reminders | digest | push
            push notification | push notifications | ping | pinged | noisy | noise
            too many emails | unsubscribe | mute | muted | snooze | daily summary
            weekly summary | newsletter | sms | text message | bell
        """),
    ),
    LexiconTopic(
        "data_import",
        "data import & migration",
        _terms("""
            import | imports | importing | imported | importer | migration | migrate
            migrating | migrated | moving over | switched from | switching from | transfer
            upload | uploads | uploading | uploaded | bulk import | csv import | mapping
            map fields | field mapping | duplicate | duplicates | deduplicate | dedupe
            historical data | legacy | previous tool | old system | old tool | data transfer
            move our data | onboard our data
        """),
    ),
    LexiconTopic(
        "collaboration",
        "collaboration & sharing",
        _terms("""
            share | shared | sharing | shares | collaborate | collaboration | collaborative
            team | teams | teammate | teammates | colleague | colleagues | coworker
            coworkers | mention | mentions | assign | assigned | assignee | invite
            invited | inviting | guest | guests | external | client | clients | workspace
            workspaces | real time | co editing | together | handoff | hand off | visibility
            view only | read only | shared link | comment thread
        """),
    ),
    LexiconTopic(
        "search",
        "search",
        _terms("""
            search | searches | searching | searched | searchable | find | finding | found
            cant find | hard to find | lookup | look up | query | queries | keyword | keywords
            search result | search results | relevant | relevance | autocomplete | index
            indexed | fuzzy | typo | typos | exact match | sort | sorting | global search
            search bar | search box
        """),
    ),
    LexiconTopic(
        "customisation",
        "customisation & settings",
        _terms("""
            customize | customise | customized | customised | customizable | customisable
            customization | customisation | custom | custom field | custom fields | setting
            settings | preference | preferences | configurable | configure | configuration
            flexible | flexibility | rigid | personalize | personalise | branding | brand
            logo | colors | colours | white label | rename | default | defaults | toggle
            tweak | adjust | field | fields | column | columns | view | views
        """),
    ),
    LexiconTopic(
        "localisation",
        "language & localisation",
        _terms("""
            language | languages | translation | translations | translate | translated
            localization | localisation | localized | localised | japanese | english
            german | french | spanish | chinese | korean | portuguese | multilingual
            locale | time zone | timezone | time zones | timezones | currency | currencies
            date format | right to left | rtl | international | region | regional | utf 8
            encoding | garbled | characters | accents
        """),
    ),
    LexiconTopic(
        "accessibility",
        "accessibility",
        _terms("""
            accessibility | accessible | a11y | screen reader | screen readers | keyboard
            keyboard navigation | keyboard shortcut | shortcuts | contrast | color blind
            colour blind | colorblind | font size | text size | zoom | wcag | ada | aria
            blind | visually impaired | low vision | dyslexia | readable | readability
            alt text | focus | tab order | captions | eyesight
        """),
    ),
)


JAPANESE: tuple[LexiconTopic, ...] = (
    LexiconTopic(
        "pricing",
        "料金・請求",
        _terms("""
            料金 | 価格 | 値段 | 高い | 安い | 割高 | 割安 | 値上げ | 値下げ | コスト | 費用
            請求 | 請求書 | 請求額 | 支払い | 支払う | 払う | 課金 | 返金 | 契約 | 契約更新
            解約 | プラン | 料金プラン | 見積もり | 見積 | 消費税 | 税込 | 領収書 | ライセンス
            ユーザー数 | アカウント数 | 月額 | 年額 | 年間契約 | 割引 | 予算 | 無料 | 有料
            無料プラン | トライアル | 費用対効果 | コスパ | クレジットカード | 高額 | 価格改定
            請求書払い | 従量課金
        """),
    ),
    LexiconTopic(
        "performance",
        "速度・動作",
        _terms("""
            遅い | 重い | 重たい | 速い | 速度 | スピード | 動作 | 読み込み | 読み込む | ロード
            時間がかかる | 待つ | 待ち時間 | 待たされる | 固まる | もっさり | サクサク | 快適
            遅延 | 反応 | レスポンス | 処理 | 処理速度 | 高速 | 高速化 | パフォーマンス | 軽い
            ラグ | タイムアウト | 表示速度 | 遅れる | 重くなる | 遅くなる | くるくる | ぐるぐる
            動きが悪い | 開くのが遅い | 表示が遅い
        """),
    ),
    LexiconTopic(
        "support",
        "サポート対応",
        _terms("""
            サポート | 問い合わせ | 問い合わせる | 問合せ | 問合わせ | 対応 | 返信 | 回答 | 返事
            担当 | 担当者 | 窓口 | 電話 | チャット | 丁寧 | 親切 | 迅速 | 解決 | カスタマーサポート
            サポートチーム | サポート担当 | 連絡 | 質問 | ヘルプデスク | チケット | 営業
            カスタマーサクセス | 案内 | 助かる | 感謝 | 不親切 | たらい回し | 返答 | 対応が早い
            対応が遅い | 回答が遅い | 連絡がない
        """),
    ),
    LexiconTopic(
        "usability",
        "使いやすさ・画面",
        _terms("""
            使いやすい | 使いにくい | 使いづらい | 使い勝手 | 分かりにくい | わかりにくい
            分かりづらい | わかりづらい | 分かりやすい | わかりやすい | 直感的 | 操作 | 操作性
            画面 | UI | デザイン | 見やすい | 見にくい | 見づらい | 複雑 | シンプル | 簡単
            難しい | 迷う | ボタン | メニュー | クリック | レイアウト | 慣れる | 面倒 | 手間
            煩雑 | ごちゃごちゃ | すっきり | ナビゲーション | 画面遷移 | 階層 | 配置 | 使い方
        """),
    ),
    LexiconTopic(
        "reporting",
        "レポート・分析・出力",
        _terms("""
            レポート | 報告 | 報告書 | 分析 | ダッシュボード | グラフ | 集計 | 出力 | エクスポート
            CSV | CSV出力 | エクセル | Excel | PDF | 帳票 | 指標 | 数値 | 可視化 | 統計 | 推移
            絞り込み | フィルター | 抽出 | ダウンロード | チャート | 傾向 | 週次 | 月次
            レポート機能 | 分析機能 | 集計機能 | 見える化 | KPI | 資料 | 表 | データ分析
        """),
    ),
    LexiconTopic(
        "integrations",
        "連携・API",
        _terms("""
            連携 | API | 外部サービス | 他サービス | 他のツール | Slack | Salesforce | kintone
            Chatwork | Teams | Google | Microsoft | 同期 | 接続 | 連動 | Webhook | プラグイン
            自動連携 | 会計ソフト | freee | マネーフォワード | LINE | Zapier | CRM | SFA
            システム連携 | 基幹システム | 手入力 | 二重入力 | 転記 | 連携先 | 外部ツール
            データ連携 | 取り込めない
        """),
    ),
    LexiconTopic(
        "mobile",
        "スマホ・アプリ",
        _terms("""
            スマホ | スマートフォン | モバイル | アプリ | iPhone | Android | iPad | タブレット
            携帯 | 外出先 | 出先 | 移動中 | 画面が小さい | 横向き | 縦向き | App Store
            ストア | オフライン | 電波 | モバイル版 | アプリ版 | スマホ版 | 片手 | タップ
            スワイプ | 現場 | 外回り | 通勤中
        """),
    ),
    LexiconTopic(
        "reliability",
        "不具合・障害",
        _terms("""
            不具合 | バグ | エラー | 落ちる | 止まる | 停止 | 障害 | フリーズ | 動かない
            使えない | 消える | 消失 | 壊れる | 不安定 | 安定 | 安定性 | 復旧 | メンテナンス
            ダウン | つながらない | 繋がらない | 表示されない | 保存できない | 正常 | 異常
            修正 | 頻繁 | 再発 | 真っ白 | 強制終了 | 再起動 | クラッシュ | データが消える
            突然 | 急に | 原因 | 障害情報 | システム障害
        """),
    ),
    LexiconTopic(
        "onboarding",
        "導入・初期設定・マニュアル",
        _terms("""
            導入 | 初期設定 | 立ち上げ | 使い始める | 最初 | 始める | マニュアル | ヘルプ
            ドキュメント | 説明書 | チュートリアル | 動画 | 研修 | トレーニング | 勉強会
            セミナー | ウェビナー | オンボーディング | サポートサイト | FAQ | よくある質問
            手順書 | ガイド | 導入支援 | 定着 | 教育 | 覚える | 新人 | 説明 | 解説 | 初心者
            初めて | 導入時 | 設定方法 | やり方 | 手順
        """),
    ),
    LexiconTopic(
        "features",
        "機能要望",
        _terms("""
            機能 | 新機能 | 機能追加 | 追加 | 要望 | 希望 | 実装 | 搭載 | 足りない | 不足
            物足りない | 欠ける | 欲しい | ほしい | あればいい | あると嬉しい | あると助かる
            できるようにする | 便利 | 一括 | 一括編集 | 自動化 | 自動 | テンプレート
            繰り返し | 他社 | 競合 | 改善 | 改善要望 | ロードマップ | 今後 | 期待 | オプション
            対応してほしい | 追加してほしい | できない
        """),
    ),
    LexiconTopic(
        "security",
        "セキュリティ・権限",
        _terms("""
            セキュリティ | 安全 | 安全性 | SSO | シングルサインオン | SAML | 二段階認証
            二要素認証 | 認証 | パスワード | ログイン | ログアウト | 権限 | 権限設定 | アクセス
            アクセス権 | 管理者 | ロール | 監査 | 監査ログ | 操作ログ | 暗号化 | 個人情報
            情報漏洩 | 漏洩 | プライバシー | IP制限 | IPアドレス | 情シス | 情報システム部
            ISMS | コンプライアンス | 不正アクセス | 乗っ取り | 閲覧権限 | 編集権限 | 社内規定
        """),
    ),
    LexiconTopic(
        "notifications",
        "通知・メール",
        _terms("""
            通知 | お知らせ | アラート | メール | メール通知 | リマインド | リマインダー | 受信
            迷惑メール | 届く | 届かない | 多すぎる | うるさい | 見逃す | 気づく | 気付く
            プッシュ通知 | 配信 | 配信停止 | 知らせる | 件名 | 送信 | ダイジェスト | 頻度
            ミュート | 未読 | 既読 | 通知設定 | バッジ | 通知が多い | 通知が来ない
        """),
    ),
    LexiconTopic(
        "data_import",
        "データ移行・取り込み",
        _terms("""
            インポート | 取り込み | 取り込む | 移行 | データ移行 | 移す | 乗り換え | 乗り換える
            移行作業 | アップロード | CSV取り込み | 一括登録 | 一括インポート | 旧システム
            以前のツール | 既存データ | 過去データ | 過去のデータ | 重複 | マッピング | 紐付け
            紐づける | 紐付ける | 取込 | 登録作業 | データ登録 | エクセルから | 移行ツール
        """),
    ),
    LexiconTopic(
        "collaboration",
        "共有・共同作業",
        _terms("""
            共有 | 共同 | 共同編集 | チーム | メンバー | 同僚 | 部署 | 他部署 | 招待 | ゲスト
            社外 | 社内 | コメント | メンション | 割り当て | 割り当てる | 情報共有 | やり取り
            コラボレーション | 同時編集 | 閲覧 | 共有リンク | リアルタイム | 一緒 | 全員 | 上司
            部下 | 承認 | ワークフロー | 取引先 | 関係者 | 他のメンバー
        """),
    ),
    LexiconTopic(
        "search",
        "検索",
        _terms("""
            検索 | 検索機能 | 探す | 見つかる | 見つからない | 見つける | キーワード | 検索結果
            ヒット | あいまい検索 | 曖昧検索 | 全文検索 | 並べ替え | 並び替え | ソート | 候補
            入力補完 | 表記ゆれ | 部分一致 | 完全一致 | 該当 | 探しにくい | 見当たらない
            タグ | 検索条件 | 絞り込み検索 | 引っかかる
        """),
    ),
    LexiconTopic(
        "customisation",
        "カスタマイズ・設定",
        _terms("""
            カスタマイズ | 設定 | 設定変更 | 自由度 | 柔軟 | 柔軟性 | 独自 | 項目 | 項目追加
            並び順 | 表示項目 | 非表示 | 表示設定 | デフォルト | 初期値 | 好み | 自社 | 運用
            合わせる | ロゴ | 色 | 変えられない | 変更できない | 固定 | 細かい | 調整 | 個別
            カスタム | カスタム項目 | 名称 | 列 | 画面構成 | 自社仕様
        """),
    ),
    LexiconTopic(
        "localisation",
        "言語・ローカライズ",
        _terms("""
            日本語 | 英語 | 翻訳 | 多言語 | 言語 | 日本語化 | 英語表記 | 表記 | 和暦 | 西暦
            日付 | 日付形式 | タイムゾーン | 時差 | 時刻 | 通貨 | ドル | 文字化け | 全角
            半角 | ふりがな | 漢字 | 不自然 | 機械翻訳 | 直訳 | 海外 | 日本 | 現地 | ローカライズ
            日本語対応 | 英語のまま | 日本の商習慣
        """),
    ),
    LexiconTopic(
        "accessibility",
        "アクセシビリティ",
        _terms("""
            アクセシビリティ | 読み上げ | スクリーンリーダー | 音声読み上げ | キーボード
            キーボード操作 | ショートカット | コントラスト | 色覚 | 色弱 | 文字サイズ
            文字が小さい | 拡大 | 拡大表示 | 見えにくい | 視覚障害 | 高齢者 | 老眼 | 読みやすい
            配色 | 色使い | フォント | 字幕 | ユニバーサルデザイン | 目が疲れる | ダークモード
            音声 | ズーム | 代替テキスト
        """),
    ),
)

LEXICON: dict[str, tuple[LexiconTopic, ...]] = {"en": ENGLISH, "ja": JAPANESE}
